"""Names derived from configuration, shared by stacks and tools (and cheap to
import: no provider bindings)."""

from .templates import render


def runtime_account_id(service_name: str, environment_name: str) -> str:
    """The runtime service account of a service, e.g. journal-service-production."""
    return f"{service_name}-{environment_name}"


def app_state_prefix(environment_name: str) -> str:
    """Where the app stack's state lives in the environment's state bucket."""
    return f"app/{environment_name}"


def traditions_bucket_name(platform, environment_name: str) -> str:
    """The environment's traditions bucket: the `traditions_bucket` template rendered."""
    return _render_for(platform.traditions_bucket, platform, environment_name)


def service_urls_secret_id(platform, environment_name: str) -> str:
    """The secret holding every service URL: the `service_urls_secret` template rendered."""
    return _render_for(platform.service_urls_secret, platform, environment_name)


def _render_for(template: str, platform, environment_name: str) -> str:
    return render(template, {"env": environment_name, "project": platform.environments[environment_name].project_id})


def image_tag_variable_name(image: str) -> str:
    """The OpenTofu input that carries an image's tag, e.g. image_tag_agent_service."""
    return f"image_tag_{image.replace('-', '_').replace('.', '_')}"


def stack_names(environment_names) -> list[str]:
    """Every stack synthesized for these environments, in synthesis order."""
    return [f"{kind}-{env}" for env in environment_names for kind in ("bootstrap", "app")]
