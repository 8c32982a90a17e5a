"""Names derived from configuration, shared by stacks and tools (and cheap to
import: no provider bindings)."""

import os

from .templates import render

# The app stack's input that starts new revisions when it changes, and its
# output of the deployed image tags (read by plans of what runs now).
ROLLOUT_VARIABLE = "rollout"
ROLLOUT_OUTPUT = "rollout_id"
IMAGE_TAGS_OUTPUT = "image_tags"
# The infrastructure repository's commit of the last deploy (input and output), for `make deployed`.
INFRASTRUCTURE_COMMIT_VARIABLE = "infrastructure_commit"
INFRASTRUCTURE_COMMIT_OUTPUT = "infrastructure_commit_id"
# Plans only (pull requests, drift): images that no deploy has built yet (a
# service added by the change), planned by tag without reading the registry.
UNBUILT_IMAGES_VARIABLE = "plan_unbuilt_images"


def runtime_account_id(service_name: str, environment_name: str) -> str:
    """The runtime service account of a service, e.g. journal-service-production."""
    return f"{service_name}-{environment_name}"


# Where the bootstrap's state lives in the state bucket once moved there, and
# the object the GCS backend writes under a prefix (workspace "default").
BOOTSTRAP_STATE_PREFIX = "bootstrap"
STATE_OBJECT = "default.tfstate"
# OpenTofu's GCS backend locks a state with `<prefix>/<workspace>.tflock`.
LOCK_OBJECT = "default.tflock"
# The bootstrap's state before it moves into the bucket: in its stack folder,
# relative, so the synthesized JSON holds no path of the machine.
LOCAL_STATE_FILE = "terraform.tfstate"


def app_state_prefix(environment_name: str) -> str:
    """Where the app stack's state lives in the environment's state bucket."""
    return f"app/{environment_name}"


def data_bucket_name(platform, environment_name: str, key: str) -> str:
    """A data bucket's name in the environment: its `name` template rendered."""
    return _render_for(platform.data_buckets[key].name, platform, environment_name)


def data_bucket_names(platform, environment_name: str) -> dict[str, str]:
    """Every data bucket's name in the environment, by key."""
    return {key: data_bucket_name(platform, environment_name, key) for key in platform.data_buckets}


# Placeholders every env value may use, besides data bucket keys and vars.
BUILTIN_PLACEHOLDERS = ("env", "project", "region")


def placeholder_values(platform, environment_name: str) -> dict[str, str]:
    """What each `{name}` of an env value stands for in the environment: the
    built-in names, each data bucket's name by its key, the environment's vars
    (validation keeps the three sets apart)."""
    environment = platform.environments[environment_name]
    builtin = dict(zip(BUILTIN_PLACEHOLDERS, (environment_name, environment.project_id, environment.region), strict=True))
    return {**builtin, **data_bucket_names(platform, environment_name), **environment.vars}


def service_urls_secret_id(platform, environment_name: str) -> str:
    """The secret holding every service URL: the `service_urls_secret` template rendered."""
    return _render_for(platform.service_urls_secret, platform, environment_name)


def _render_for(template: str, platform, environment_name: str) -> str:
    return render(template, {"env": environment_name, "project": platform.environments[environment_name].project_id})


def image_tag_variable_name(image: str) -> str:
    """The OpenTofu input that carries an image's tag, e.g. image_tag_agent_service."""
    return f"image_tag_{image.replace('-', '_').replace('.', '_')}"


def bootstrap_stack_name(environment_name: str) -> str:
    """The environment's admin-applied stack."""
    return f"bootstrap-{environment_name}"


def app_stack_name(environment_name: str) -> str:
    """The environment's CI-applied stack."""
    return f"app-{environment_name}"


# Where a synthesis writes: cdktf's default output, unless CDKTF_OUTDIR says otherwise.
DEFAULT_OUTDIR = "cdktf.out"
OUTDIR_ENV_VAR = "CDKTF_OUTDIR"


def synth_outdir() -> str:
    return os.environ.get(OUTDIR_ENV_VAR, DEFAULT_OUTDIR)


def stack_directory(stack_name: str) -> str:
    """A synthesized stack's folder, where tofu runs."""
    return f"{synth_outdir()}/stacks/{stack_name}"


def stack_names(environment_names) -> list[str]:
    """Every stack synthesized for these environments, in synthesis order."""
    return [name(env) for env in environment_names for name in (bootstrap_stack_name, app_stack_name)]


def service_url(service_name: str, project_number: str, region: str) -> str:
    """Cloud Run's deterministic URL of a service, known before it exists."""
    return f"https://{service_name}-{project_number}.{region}.run.app"


def service_account_email(account_id: str, project: str) -> str:
    return f"{account_id}@{project}.iam.gserviceaccount.com"


def workload_identity_provider_name(project_number: str, pool_id: str, provider_id: str) -> str:
    """The provider's full resource name, as google-github-actions/auth wants it."""
    return f"projects/{project_number}/locations/global/workloadIdentityPools/{pool_id}/providers/{provider_id}"


def registry_url_prefix(region: str, project: str, repository: str) -> str:
    """Where images are pushed: {region}-docker.pkg.dev/{project}/{repository}."""
    return f"{region}-docker.pkg.dev/{project}/{repository}"


def url_secret_ids(platform, environment_name: str) -> list[str]:
    """Secret ids of the published service URLs: one per URL name, then the
    JSON of them all."""
    return [*(s.url_name for s in platform.services if s.url_name), service_urls_secret_id(platform, environment_name)]


# The custom project role of each CI identity, one per environment.
CI_ROLE_BASES = {"deployer": "cdktfDeployer", "planner": "cdktfPlanner", "builder": "cdktfBuilder"}


def ci_role_id(identity: str, environment_name: str) -> str:
    """A CI identity's custom role id in an environment (`cdktfDeployer_staging`),
    so two environments in one project do not collide; role ids allow [a-zA-Z0-9_.]."""
    return f"{CI_ROLE_BASES[identity]}_{environment_name}"


def ci_role_name(project: str, identity: str, environment_name: str) -> str:
    """The role's full name, as IAM policies hold it."""
    return f"projects/{project}/roles/{ci_role_id(identity, environment_name)}"
