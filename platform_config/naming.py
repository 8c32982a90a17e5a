"""Names derived from configuration, shared by stacks and tools (and cheap to
import: no provider bindings)."""


def runtime_account_id(service_name: str, environment_name: str) -> str:
    """The runtime service account of a service, e.g. journal-service-production."""
    return f"{service_name}-{environment_name}"


def app_state_prefix(environment_name: str) -> str:
    """Where the app stack's state lives in the environment's state bucket."""
    return f"app/{environment_name}"


def image_tag_variable_name(image: str) -> str:
    """The OpenTofu input that carries an image's tag, e.g. image_tag_agent_service."""
    return f"image_tag_{image.replace('-', '_').replace('.', '_')}"


def stack_names(environment_names) -> list[str]:
    """Every stack synthesized for these environments, in synthesis order."""
    return [f"{kind}-{env}" for env in environment_names for kind in ("bootstrap", "app")]


def url_secret_ids(url_names, service_urls_secret: str, *, project: str, environment_name: str) -> list[str]:
    """Secret ids of the published service URLs: one per URL name, then the
    JSON of them all (`service_urls_secret` with its placeholders filled)."""
    return [*url_names, service_urls_secret.format(project=project, env=environment_name)]
