"""Typed model of the platform configuration (config/platform.yaml).

Field-level rules live on the fields; rules that relate fields to each other
(a service reading an undeclared secret, a call to an unknown service, ...)
live in `cross_check`, which reports every problem at its own field path.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from .naming import runtime_account_id
from .workload_identity import (
    MAX_CONDITION_LENGTH,
    MAX_MAPPING_EXPRESSION_LENGTH,
    attribute_condition,
    attribute_mapping,
)
from .echo import echo
from .naming import (
    image_tag_variable_name,
    runtime_account_id,
    service_urls_secret_id,
    traditions_bucket_name,
)
from .templates import TemplateError, placeholders

# Regions that offer Cloud Run, Artifact Registry and Secret Manager.
GCP_REGIONS = frozenset(
    """
    africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3
    asia-south1 asia-south2 asia-southeast1 asia-southeast2 australia-southeast1
    australia-southeast2 europe-central2 europe-north1 europe-north2 europe-southwest1
    europe-west1 europe-west2 europe-west3 europe-west4 europe-west6 europe-west8
    europe-west9 europe-west10 europe-west12 me-central1 me-central2 me-west1
    northamerica-northeast1 northamerica-northeast2 northamerica-south1
    southamerica-east1 southamerica-west1 us-central1 us-east1 us-east4 us-east5
    us-south1 us-west1 us-west2 us-west3 us-west4
    """.split()
)

# Roles that would make the CI deployer a project owner in all but name.
FORBIDDEN_DEPLOYER_ROLES = frozenset({"roles/owner", "roles/editor"})

# Plain environment variables whose names look like credentials: these must be
# Secret Manager references instead.
CREDENTIAL_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|_KEY$)")

PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SERVICE_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$")
SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# At most 255 characters: a url_name is also a Secret Manager id.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
IMAGE_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
ACCOUNT_ID = re.compile(r"^[a-z]([a-z0-9-]{4,28}[a-z0-9])$")
POOL_OR_PROVIDER_ID = re.compile(r"^[a-z0-9-]{4,32}$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{1,15}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# A path inside the application repository (goes into the CI build matrix).
RELATIVE_PATH = re.compile(r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_./-]{1,255}$")
# A branch name git accepts (`git check-ref-format --branch`), conservatively.
BRANCH_NAME = re.compile(r"^(?![-/.])(?!.*(\.\.|//|@\{|\.lock$|/\.))[A-Za-z0-9._/-]{1,255}(?<![/.])$")
# Project ids may not contain these (Google Cloud: "Creating and managing projects").
PROJECT_ID_RESTRICTED = ("google", "ssl")

# Environment variables Cloud Run sets itself (container runtime contract);
# setting one is refused at deploy time.
RESERVED_ENV_NAMES = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})
# Cloud Run: at most 1000 environment variables per container. Values get a
# bound of our own, far above any real one.
MAX_ENV_VARS = 1000
MAX_ENV_VALUE_CHARS = 32_768
# Cloud Run memory limits: 128 MiB to 32 GiB per instance.
MEMORY_MIB = (128, 32 * 1024)
# Cloud Run startup probes: failure_threshold x period_seconds at most 240 s.
STARTUP_PROBE_MAX_SECONDS = 240
# Construct ids of the app and bootstrap stacks a service's id would clash
# with: both create a service's constructs under its own name.
RESERVED_SERVICE_NAMES = frozenset(
    {"project", "traditions", "registry-check", "runtime-identities-check",
     "apis", "registry", "state-bucket", "deployer", "planner", "builder", "github"}
)
RESERVED_SERVICE_PREFIXES = ("image-check-", "url-secret-")


def _matches(pattern: re.Pattern[str], fix: str):
    def check(value: str) -> str:
        # fullmatch: `$` in re.match also accepts a trailing newline.
        if not pattern.fullmatch(value):
            raise ValueError(f"{echo(value)} is not valid: {fix}")
        return value

    return AfterValidator(check)


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid GCS bucket name, or None when it is."""
    fix = (
        "use 3-63 lowercase letters, digits, '-', '_' or '.', starting and ending "
        "with a letter or digit, without 'goog' prefix or 'google' in it"
    )
    if not BUCKET_NAME.fullmatch(name) or ".." in name:
        return f"{echo(name)} is not a valid bucket name: {fix}"
    if name.startswith("goog") or "google" in name or "g00gle" in name:
        return f"{echo(name)} is reserved by Google: {fix}"
    return None


def _bucket_name(value: str) -> str:
    problem = bucket_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _project_id_restrictions(value: str) -> str:
    for word in PROJECT_ID_RESTRICTED:
        if word in value:
            raise ValueError(f"{echo(value)} contains {word!r}, which Google does not allow in project ids; use the project's real id")
    return value


ProjectId = Annotated[
    str,
    _matches(PROJECT_ID, "use 6-30 lowercase letters, digits or hyphens, starting with a letter"),
    AfterValidator(_project_id_restrictions),
]
ServiceName = Annotated[
    str,
    _matches(SERVICE_NAME, "use lowercase letters, digits and hyphens, starting with a letter"),
]
SecretId = Annotated[str, _matches(SECRET_ID, "use letters, digits, '_' or '-' (Secret Manager ids)")]
EnvName = Annotated[str, _matches(ENV_NAME, "use letters, digits and '_', not starting with a digit")]
ImageName = Annotated[str, _matches(IMAGE_NAME, "use lowercase letters, digits, '.', '_' or '-'")]
AccountId = Annotated[
    str,
    _matches(ACCOUNT_ID, "use 6-30 lowercase letters, digits or hyphens, starting with a letter"),
]
PoolOrProviderId = Annotated[
    str, _matches(POOL_OR_PROVIDER_ID, "use 4-32 lowercase letters, digits or hyphens")
]
BucketName = Annotated[str, AfterValidator(_bucket_name)]
Repository = Annotated[
    str,
    _matches(re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9_.-]{1,100}$"), "use OWNER/REPOSITORY as GitHub spells it"),
]
WorkflowPath = Annotated[
    str,
    _matches(re.compile(r"^\.github/workflows/[A-Za-z0-9_.-]+\.ya?ml$"), "use a path such as .github/workflows/deploy.yml"),
]
GroupName = Annotated[str, _matches(GROUP_NAME, "use up to 63 lowercase letters, digits, '_' or '-', starting with a letter")]
RelativePath = Annotated[str, _matches(RELATIVE_PATH, "use a relative path inside the application repository, e.g. mesh/Dockerfile")]
BranchName = Annotated[str, _matches(BRANCH_NAME, "use a git branch name such as main or release/2024 (letters, digits, '.', '_', '-', '/')")]
EnvValue = Annotated[str, StringConstraints(max_length=MAX_ENV_VALUE_CHARS)]


def _memory(value: str) -> str:
    number, unit = int(value[:-2]), value[-2:]
    mib = number * (1024 if unit == "Gi" else 1)
    if not MEMORY_MIB[0] <= mib <= MEMORY_MIB[1]:
        raise ValueError(f"{value} is outside Cloud Run's memory limits; use 128Mi to 32Gi")
    return value


Memory = Annotated[str, _matches(re.compile(r"^[0-9]{1,6}(Mi|Gi)$"), "use e.g. 512Mi or 2Gi"), AfterValidator(_memory)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


def _region(value: str) -> str:
    if value not in GCP_REGIONS:
        raise ValueError(
            f"{echo(value)} is not a Google Cloud region; use one of e.g. us-east4, us-central1, "
            "europe-west1 (see `gcloud run regions list`)"
        )
    return value


Region = Annotated[str, AfterValidator(_region)]

MULTI_REGIONS = frozenset({"US", "EU", "ASIA"})


def _bucket_location(value: str) -> str:
    if value not in MULTI_REGIONS and value.lower() not in GCP_REGIONS:
        raise ValueError(f"{echo(value)} is not a bucket location; use a region such as us-east4 or one of US, EU, ASIA")
    return value


BucketLocation = Annotated[str, AfterValidator(_bucket_location)]


class Strict(BaseModel):
    """Every configuration object rejects unknown keys and is immutable."""

    # strict: no coercion, so `port: true` is not port 1 and `3.0` is not 3.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Adoptable(str, Enum):
    """Resources that may already exist and are then adopted with import blocks."""

    registry = "registry"
    state_bucket = "state_bucket"
    deployer = "deployer"
    workload_identity_pool = "workload_identity_pool"
    workload_identity_provider = "workload_identity_provider"


class GitHub(Strict):
    """Who calls what: the application repository calls the deploy workflow of
    the infrastructure repository (this project), whose plan workflows run there."""

    # Spelled exactly as GitHub does: the token's claims are compared as they are.
    app_repository: Repository
    infra_repository: Repository
    # GitHub's numeric ids; when set, a repository deleted and re-created
    # under the same name is refused too.
    app_repository_id: int | None = Field(default=None, ge=1)
    infra_repository_id: int | None = Field(default=None, ge=1)
    deploy_workflow: WorkflowPath
    # The only ref of the infrastructure repository whose deploy and plan
    # workflows are trusted outside pull requests.
    infra_ref: Annotated[str, _matches(re.compile(r"^refs/(heads|tags)/[A-Za-z0-9._/-]+$"), "use a full ref such as refs/heads/main")]
    plan_workflows: list[WorkflowPath] = []


class BucketRetentionPolicy(Strict):
    noncurrent_versions_kept: int = Field(ge=1, le=1000)
    noncurrent_days_kept: int = Field(ge=1, le=3650)
    soft_delete_retention_days: int = Field(ge=7, le=90)


class RegistryCleanup(Strict):
    keep_recent_versions: int = Field(ge=1, le=1000)
    delete_untagged_after_days: int = Field(ge=1, le=3650)


class Probe(Strict):
    path: Annotated[str, _matches(re.compile(r"^/\S*$"), "use an absolute HTTP path such as /health")]
    port: int = Field(ge=1, le=65535)
    initial_delay_seconds: int = Field(ge=0, le=240)
    timeout_seconds: int = Field(ge=1, le=240)
    period_seconds: int = Field(ge=1, le=240)
    # Cloud Run: a startup probe's failure_threshold x period_seconds is at
    # most 240 s (checked in cross_check), so never more than 240 failures.
    failure_threshold: int = Field(ge=1, le=STARTUP_PROBE_MAX_SECONDS)


class Build(Strict):
    """Where the application repository builds the image from."""

    dockerfile: RelativePath
    context: RelativePath
    # The gateway bakes every service URL in as build arguments.
    service_url_build_args: bool = False


class Service(Strict):
    name: ServiceName
    image: ImageName
    port: int = Field(ge=1, le=65535)
    build: Build
    public: bool = True
    # Secret and environment-variable name of this service's URL; None for a
    # service nobody calls (the gateway).
    url_name: EnvName | None = None
    min_instances: int | None = Field(default=None, ge=0, le=1000)
    max_instances: int | None = Field(default=None, ge=1, le=1000)
    concurrency: int | None = Field(default=None, ge=1, le=1000)
    cpu: Literal["1", "2", "4", "8"] | None = None
    memory: Memory | None = None
    request_timeout_seconds: int | None = Field(default=None, ge=1, le=3600)
    startup_probe: Probe | None = None
    liveness_probe: Probe | None = None
    # Probed over HTTP after every deploy (tools/verify_deploy.py); None: readiness only.
    health_path: Annotated[str, _matches(re.compile(r"^/\S*$"), "use an absolute HTTP path such as /healthcheck")] | None = None
    traditions_access: Literal["objectViewer", "objectAdmin"] | None = None
    env_groups: list[GroupName] = []
    env: dict[EnvName, EnvValue] = Field(default={}, max_length=MAX_ENV_VARS)
    secrets: dict[EnvName, SecretId] = Field(default={}, max_length=MAX_ENV_VARS)
    calls: list[ServiceName] = []
    # --- what a real plan would show (README, "What a plan would show") ---
    # CPU only while a request is served (true) or always allocated (false);
    # unset: service_defaults.cpu_idle.
    cpu_idle: bool | None = None
    # Public without an allUsers binding (Cloud Run's invoker check off), for
    # organisations whose domain-restricted sharing refuses allUsers.
    invoker_iam_disabled: bool = False


class ServiceDefaults(Strict):
    min_instances: int = Field(ge=0, le=1000)
    # Always set: Cloud Run answers 100 when unset, and provider 6.x would
    # show `100 -> null` on every plan.
    max_instances: int = Field(default=100, ge=1, le=1000)
    concurrency: int = Field(ge=1, le=1000)
    cpu: Literal["1", "2", "4", "8"]
    memory: Memory
    request_timeout_seconds: int = Field(ge=1, le=3600)
    # With resource limits set, Cloud Run allocates CPU always unless told otherwise.
    cpu_idle: bool = True


class WorkloadIdentity(Strict):
    # The provider's condition and mapping are generated from `github:`
    # (platform_config/workload_identity.py), never written by hand.
    pool_id: PoolOrProviderId
    provider_id: PoolOrProviderId


class Environment(Strict):
    project_id: ProjectId
    # Needed by CI only (Workload Identity provider name, the services'
    # deterministic URLs): `gcloud projects describe PROJECT --format='value(projectNumber)'`.
    project_number: Annotated[str, _matches(re.compile(r"^[0-9]{6,20}$"), "use the digits of `gcloud projects describe PROJECT --format='value(projectNumber)'`")] | None = None
    region: Region
    deploy_branch: BranchName
    registry_repository: Annotated[
        str,
        _matches(
            re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"),
            "use lowercase letters, digits and hyphens, starting with a letter",
        ),
    ]
    state_bucket: BucketName
    # Where the state bucket lives; defaults to the region. Set it to an adopted
    # bucket's location: a different one would force its replacement.
    state_bucket_location: BucketLocation | None = None
    deployer_account_id: AccountId
    # Read-only plans (pull requests, drift) and image pushes, each its own account.
    planner_account_id: AccountId
    builder_account_id: AccountId
    workload_identity: WorkloadIdentity
    # Values substituted into `{name}` placeholders of service env values.
    vars: dict[Annotated[str, _matches(re.compile(r"^[a-z_]{1,64}$"), "use lowercase and '_'")], EnvValue] = {}
    deletion_protection: bool
    # Not strict: in strict mode pydantic takes only Adoptable instances, not their names.
    adopt: list[Annotated[Adoptable, Field(strict=False)]] = []
    adopt_secrets: list[SecretId] = []
    # "gcs" once the bootstrap's own state was moved into the state bucket.
    bootstrap_backend: Literal["local", "gcs"] = "local"
    # --- adoption and the admin-applied layout (README, "Moving resources between stacks") ---
    # Existing Cloud Run services (app stack) and runtime service accounts
    # (bootstrap stack) to import instead of failing with 409.
    adopt_services: list[ServiceName] = []
    adopt_runtime_accounts: list[ServiceName] = []
    # Services whose first apply has not succeeded yet: deletion protection
    # stays off so a failed first creation can be replaced; remove the name
    # once the service is up.
    first_apply_services: list[ServiceName] = []
    # The environment was applied when the app stack still held the runtime
    # accounts, URL secrets and traditions bucket: the bootstrap imports them,
    # the app stack forgets them (`removed`, destroy = false). Set it back to
    # false once both stacks are applied.
    move_to_bootstrap: bool = False


class Platform(Strict):
    name: Annotated[str, _matches(re.compile(r"^[a-z][a-z0-9-]{1,30}$"), "use lowercase letters, digits, hyphens")]
    github: GitHub
    apis: list[Annotated[str, _matches(re.compile(r"^[a-z0-9.-]+\.googleapis\.com$"), "use e.g. run.googleapis.com")]]
    deployer_project_roles: list[Annotated[str, _matches(re.compile(r"^roles/[A-Za-z0-9_.]+$"), "use e.g. roles/run.admin")]]
    # One custom role with exactly what deploying needs, instead of *Admin roles.
    deployer_permissions: list[Annotated[str, _matches(re.compile(r"^[a-z]+\.[A-Za-z]+\.[A-Za-z]+$"), "use a permission such as run.services.update")]]
    bucket_retention: BucketRetentionPolicy
    registry_cleanup: RegistryCleanup
    traditions_bucket: NonEmpty
    service_urls_secret: NonEmpty
    operator_secrets: list[SecretId]
    env_groups: dict[GroupName, Annotated[dict[EnvName, EnvValue], Field(max_length=MAX_ENV_VARS)]] = {}
    service_defaults: ServiceDefaults
    services: list[Service] = Field(min_length=1)
    environments: dict[Annotated[str, _matches(ENVIRONMENT_NAME, "use 2-16 lowercase letters/digits")], Environment] = Field(min_length=1)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)


# --- relations between fields -------------------------------------------------

Problem = tuple[tuple[str | int, ...], str]

BUILTIN_PLACEHOLDERS = frozenset({"env", "project", "region", "traditions"})
NAME_PLACEHOLDERS = frozenset({"env", "project"})


def _template_problem(template: str) -> str | None:
    try:
        placeholders(template)
    except TemplateError as error:
        return str(error)
    return None


def _duplicates(values: list) -> list:
    """Values listed more than once, each once, in order."""
    seen: set = set()
    return list(dict.fromkeys(v for v in values if v in seen or seen.add(v)))


def cross_check(platform: Platform) -> list[Problem]:
    problems: list[Problem] = []
    names = [s.name for s in platform.services]
    declared_secrets = set(platform.operator_secrets)

    for index, service in enumerate(platform.services):
        at = ("services", index)
        if names.count(service.name) > 1 and names.index(service.name) != index:
            problems.append((at + ("name",), f"duplicate service name {service.name!r}; give each service a unique name"))
        if service.name in RESERVED_SERVICE_NAMES or service.name.startswith(RESERVED_SERVICE_PREFIXES):
            problems.append((at + ("name",), f"{service.name!r} is a name the stacks use for something else; rename the service"))
        if service.url_name in RESERVED_ENV_NAMES:
            problems.append((at + ("url_name",), f"{service.url_name} is reserved by Cloud Run (its callers would get it as an env var); use e.g. {service.name.upper().replace('-', '_')}_URL"))
        if service.url_name in declared_secrets:
            problems.append(
                (at + ("url_name",), f"{service.url_name!r} is an operator secret, and this project would take that secret over; use another name")
            )
        for env_name, secret in service.secrets.items():
            if env_name in RESERVED_ENV_NAMES:
                problems.append((at + ("secrets", env_name), f"{env_name} is reserved by Cloud Run; use another variable name"))
            if secret not in declared_secrets:
                problems.append(
                    (at + ("secrets", env_name), f"reads secret {secret!r}, which is not declared; add it to operator_secrets or fix the name")
                )
        for called in _duplicates(service.calls):
            problems.append((at + ("calls",), f"lists {called!r} more than once; keep one"))
        for called in dict.fromkeys(service.calls):
            if called not in names:
                problems.append((at + ("calls",), f"calls unknown service {called!r}; use one of: {', '.join(names)}"))
            elif platform.service(called).url_name is None:
                problems.append((at + ("calls",), f"calls {called!r}, which has no url_name; give it one"))
        for group in _duplicates(service.env_groups):
            problems.append((at + ("env_groups",), f"lists {group!r} more than once; keep one"))
        for group in service.env_groups:
            if group not in platform.env_groups:
                problems.append((at + ("env_groups",), f"unknown env group {echo(group)}; define it under env_groups"))
        for env_name, value in service.env.items():
            if env_name in declared_secrets or CREDENTIAL_NAME.search(env_name):
                problems.append(
                    (at + ("env", env_name), "looks like a credential and must not be a plain value; move it to secrets: (a Secret Manager reference)")
                )
            if env_name in RESERVED_ENV_NAMES:
                problems.append((at + ("env", env_name), f"{env_name} is reserved by Cloud Run; remove it (set port: instead of PORT)"))
            template_problem = _template_problem(value)
            if template_problem:
                problems.append((at + ("env", env_name), template_problem))
        plain = set(service.env) | {k for g in service.env_groups for k in platform.env_groups.get(g, {})}
        from_secrets = set(service.secrets)
        from_calls = {platform.service(c).url_name for c in service.calls if c in names}
        for clash in sorted((plain & from_secrets) | (plain & from_calls) | (from_secrets & from_calls)):
            problems.append((at, f"sets {clash} more than once (env, secrets, calls); keep one"))
        if len(plain | from_secrets | from_calls) > MAX_ENV_VARS:
            problems.append((at, f"sets more than {MAX_ENV_VARS} environment variables, Cloud Run's limit; use fewer"))
        min_instances = platform.service_defaults.min_instances if service.min_instances is None else service.min_instances
        max_instances = service.max_instances or platform.service_defaults.max_instances
        if max_instances is not None and max_instances < min_instances:
            problems.append((at + ("max_instances",), f"{max_instances} is below min_instances {min_instances}; raise it"))
        for kind in ("startup_probe", "liveness_probe"):
            probe = getattr(service, kind)
            if probe and probe.timeout_seconds > probe.period_seconds:
                problems.append((at + (kind, "timeout_seconds"), f"{probe.timeout_seconds} is over period_seconds {probe.period_seconds} (Cloud Run refuses it); lower it"))
        probe = service.startup_probe
        if probe and probe.failure_threshold * probe.period_seconds > STARTUP_PROBE_MAX_SECONDS:
            problems.append(
                (
                    at + ("startup_probe", "failure_threshold"),
                    f"{probe.failure_threshold} x period_seconds {probe.period_seconds} is over Cloud Run's {STARTUP_PROBE_MAX_SECONDS} s for a startup probe; lower either",
                )
            )

    for group, values in platform.env_groups.items():
        for env_name, value in values.items():
            if env_name in declared_secrets or CREDENTIAL_NAME.search(env_name):
                problems.append((("env_groups", group, env_name), "looks like a credential and must not be a plain value; use a service's secrets: instead"))
            if env_name in RESERVED_ENV_NAMES:
                problems.append((("env_groups", group, env_name), f"{env_name} is reserved by Cloud Run; remove it"))
            template_problem = _template_problem(value)
            if template_problem:
                problems.append((("env_groups", group, env_name), template_problem))

    url_names = [s.url_name for s in platform.services if s.url_name]
    for index, service in enumerate(platform.services):
        if service.url_name and url_names.count(service.url_name) > 1:
            problems.append((("services", index, "url_name"), f"{service.url_name!r} is used by more than one service; make it unique"))

    images_by_variable: dict[str, set[str]] = {}
    for service in platform.services:
        images_by_variable.setdefault(image_tag_variable_name(service.image), set()).add(service.image)
    for variable, images in images_by_variable.items():
        if len(images) > 1:
            problems.append((("services",), f"images {sorted(images)} share the tag variable {variable}; name the images apart by more than '.', '_' or '-'"))

    for role in platform.deployer_project_roles:
        if role in FORBIDDEN_DEPLOYER_ROLES:
            problems.append((("deployer_project_roles",), f"{role} is far broader than deploying needs; list the specific roles instead"))
    for field in ("apis", "deployer_project_roles", "deployer_permissions", "operator_secrets"):
        for value in _duplicates(getattr(platform, field)):
            problems.append(((field,), f"lists {value!r} more than once; keep one"))
    api_ids = [api.removesuffix(".googleapis.com") for api in platform.apis]
    for value in _duplicates(api_ids):
        if platform.apis.count(f"{value}.googleapis.com") < 2:
            problems.append((("apis",), f"lists {value!r} more than once; keep one"))

    problems += _check_environments(platform)
    problems += _check_ci_identities(platform)
    problems += _check_service_choices(platform)
    return problems


def _check_service_choices(platform: Platform) -> list[Problem]:
    """Adoption lists name configured services; the invoker check is only
    switched off for public services."""
    problems: list[Problem] = []
    names = {s.name for s in platform.services}
    for env_name, environment in platform.environments.items():
        for field in ("adopt_services", "adopt_runtime_accounts", "first_apply_services"):
            for name in getattr(environment, field):
                if name not in names:
                    problems.append((("environments", env_name, field), f"{name!r} is not a configured service; use one of: {', '.join(sorted(names))}"))
    for index, service in enumerate(platform.services):
        if service.invoker_iam_disabled and not service.public:
            problems.append((("services", index, "invoker_iam_disabled"), "would make a private service public; set public: true or remove invoker_iam_disabled"))
    return problems


def _check_environments(platform: Platform) -> list[Problem]:
    problems: list[Problem] = []
    templates = {("traditions_bucket",): platform.traditions_bucket, ("service_urls_secret",): platform.service_urls_secret}
    valid_templates = True
    for at, template in templates.items():
        try:
            unknown = placeholders(template) - NAME_PLACEHOLDERS
        except TemplateError as error:
            problems.append((at, str(error)))
            valid_templates = False
            continue
        if unknown:
            problems.append((at, f"unknown placeholder(s) {sorted(unknown)}; only {{env}} and {{project}} are allowed"))
            valid_templates = False
    # Bucket names are global: no two environments may share one.
    buckets: dict[str, list[tuple[tuple[str | int, ...], str]]] = {}
    for env_name, environment in platform.environments.items():
        buckets.setdefault(environment.state_bucket, []).append((("environments", env_name, "state_bucket"), f"state bucket of {env_name!r}"))
    for env_name, environment in platform.environments.items():
        at = ("environments", env_name)
        known = BUILTIN_PLACEHOLDERS | set(environment.vars)
        for index, service in enumerate(platform.services):
            for name, value in service.env.items():
                missing = _unknown_placeholders(value, known)
                if missing:
                    problems.append(
                        (("services", index, "env", name), f"uses {sorted(missing)}, unknown in environment {env_name!r}; define it under environments.{env_name}.vars")
                    )
            account_id = runtime_account_id(service.name, env_name)
            if not ACCOUNT_ID.fullmatch(account_id):
                problems.append(
                    (("services", index, "name"), f"runtime service account id {account_id!r} would be longer than 30 characters; shorten the service name")
                )
        for group, values in platform.env_groups.items():
            for name, value in values.items():
                missing = _unknown_placeholders(value, known)
                if missing:
                    problems.append(
                        (("env_groups", group, name), f"uses {sorted(missing)}, unknown in environment {env_name!r}; define it under environments.{env_name}.vars")
                    )
        if not valid_templates:
            continue
        traditions = traditions_bucket_name(platform, env_name)
        problem = bucket_name_problem(traditions)
        if problem:
            problems.append((("traditions_bucket",), f"in environment {env_name!r}: {problem}"))
        else:
            buckets.setdefault(traditions, []).append((("traditions_bucket",), f"traditions bucket of {env_name!r}"))
        problems += _check_secret_ids(platform, env_name, environment)
    for name, users in buckets.items():
        for at, use in users[1:]:
            problems.append((at, f"{use} is {name!r}, also the {users[0][1]}; bucket names are global, make it unique"))
    return problems


def _unknown_placeholders(template: str, known: frozenset[str] | set[str]) -> set[str]:
    """Unknown names in a well-formed template (a malformed one is reported once, elsewhere)."""
    try:
        return placeholders(template) - known
    except TemplateError:
        return set()


def _check_secret_ids(platform: Platform, env_name: str, environment: Environment) -> list[Problem]:
    """The secrets this project creates in an environment: valid ids, apart
    from the operators' secrets, and the only ones that can be adopted."""
    problems: list[Problem] = []
    urls_secret = service_urls_secret_id(platform, env_name)
    if not SECRET_ID.fullmatch(urls_secret):
        # Reported alone: what it would break (adopt_secrets) follows from it.
        return [
            (("service_urls_secret",), f"in environment {env_name!r}: {echo(urls_secret)} is not a valid secret id; use letters, digits, '_' or '-' (at most 255)")
        ]
    if urls_secret in platform.operator_secrets:
        problems.append((("service_urls_secret",), f"in environment {env_name!r}: {urls_secret!r} is an operator secret; use another name"))
    elif urls_secret in {s.url_name for s in platform.services}:
        problems.append((("service_urls_secret",), f"in environment {env_name!r}: {urls_secret!r} is also a url_name; use another name"))
    created = {s.url_name for s in platform.services if s.url_name} | {urls_secret}
    for secret in _duplicates(environment.adopt_secrets):
        problems.append((("environments", env_name, "adopt_secrets"), f"lists {secret!r} more than once; keep one"))
    for secret in dict.fromkeys(environment.adopt_secrets):
        if secret not in created:
            problems.append(
                (("environments", env_name, "adopt_secrets"), f"{secret!r} is not a secret this project creates in {env_name!r}; use one of: {', '.join(sorted(created))}")
            )
    for kind in _duplicates(environment.adopt):
        problems.append((("environments", env_name, "adopt"), f"lists {kind.value!r} more than once; keep one"))
    return problems


def _check_ci_identities(platform: Platform) -> list[Problem]:
    """GitHub topology, CI service accounts and the generated Workload Identity provider."""
    problems: list[Problem] = []
    github = platform.github
    if github.app_repository.lower() == github.infra_repository.lower():
        problems.append(
            (
                ("github", "infra_repository"),
                "is the application repository; the Workload Identity condition tells the caller (application) "
                "from the called workflows (infrastructure) by repository, so use this project's own repository",
            )
        )
    projects: dict[str, str] = {}
    for env_name, environment in platform.environments.items():
        at = ("environments", env_name)
        if environment.project_id in projects:
            problems.append(
                (
                    at + ("project_id",),
                    f"{environment.project_id!r} is also the project of environment {projects[environment.project_id]!r}; "
                    "give each environment its own project (custom role, pool and secret ids are per project)",
                )
            )
        projects.setdefault(environment.project_id, env_name)
        seen: dict[str, str] = {}
        for field in ("deployer_account_id", "planner_account_id", "builder_account_id"):
            account_id = getattr(environment, field)
            if account_id in seen:
                problems.append((at + (field,), f"{account_id!r} is also the {seen[account_id]}; give each CI identity its own account"))
            seen.setdefault(account_id, field)
        condition = attribute_condition(platform, env_name)
        if len(condition) > MAX_CONDITION_LENGTH:
            problems.append(
                (
                    ("github",),
                    f"the Workload Identity condition of environment {env_name!r} would be {len(condition)} characters, "
                    f"over Google's {MAX_CONDITION_LENGTH}; use fewer plan_workflows or shorter names",
                )
            )
        for key, expression in attribute_mapping(platform, env_name).items():
            if len(expression) > MAX_MAPPING_EXPRESSION_LENGTH:
                problems.append(
                    (
                        ("github",),
                        f"the Workload Identity mapping {key} of environment {env_name!r} would be {len(expression)} "
                        f"characters, over Google's {MAX_MAPPING_EXPRESSION_LENGTH}; use fewer plan_workflows or shorter names",
                    )
                )
    return problems
