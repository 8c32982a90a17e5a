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


def custom_role_id(base: str, environment_name: str) -> str:
    """A project custom role per environment (`cdktfDeployer_staging`), so two
    environments in one project do not collide; role ids allow [a-zA-Z0-9_.]."""
    return f"{base}_{environment_name}"
