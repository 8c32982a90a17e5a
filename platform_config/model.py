"""Typed model of the platform configuration (config/platform.yaml).

Field-level rules live on the fields (their string shapes in patterns.py,
Google's limits in gcp.py); rules that relate fields to each other live in
rules.py. Every field's description is the documentation of the key: it goes
into config/platform.schema.json (`python -m platform_config.schema`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .gcp import MAX_ENV_VARS, STARTUP_PROBE_MAX_SECONDS, BucketAccess, Cpu
from .patterns import (
    AccountId,
    ApiName,
    BranchName,
    BucketKey,
    BucketLocation,
    BucketName,
    EnvironmentName,
    EnvName,
    EnvValue,
    GitRef,
    GroupName,
    HealthPath,
    ImageName,
    Memory,
    NonEmpty,
    Permission,
    PlatformName,
    PoolOrProviderId,
    ProbePath,
    ProjectId,
    ProjectNumber,
    Region,
    RegistryRepository,
    RelativePath,
    Repository,
    RoleName,
    SecretId,
    ServiceName,
    VarName,
    WorkflowPath,
)


class Strict(BaseModel):
    """Every configuration object rejects unknown keys and is immutable."""

    # strict: no coercion, so `port: true` is not port 1 and `3.0` is not 3.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Adoptable(StrEnum):
    """Resources that may already exist and are then adopted with import blocks."""

    registry = "registry"
    state_bucket = "state_bucket"
    deployer = "deployer"
    workload_identity_pool = "workload_identity_pool"
    workload_identity_provider = "workload_identity_provider"


# GitHub's ids are 64-bit integers (the REST API's `id`, the token's `repository_id`).
MAX_GITHUB_ID = 2**63 - 1


class GitHub(Strict):
    """Who calls what: the application repository calls the deploy workflow of
    the infrastructure repository (this project), whose plan workflows run there.
    The Workload Identity condition is generated from these values."""

    app_repository: Repository = Field(
        description="The application repository (source of the images; its deploy branches call deploy_workflow), "
        "OWNER/REPOSITORY spelled exactly as GitHub does: the token's claims are compared as they are."
    )
    infra_repository: Repository = Field(
        description="This project's repository (home of the deploy and plan workflows), OWNER/REPOSITORY as GitHub spells it; not the application repository."
    )
    app_repository_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_GITHUB_ID,
        description="GitHub's numeric id of app_repository (`gh api repos/OWNER/REPO --jq .id`); "
        "when set, a repository deleted and re-created under the same name is refused too. null: not checked.",
    )
    infra_repository_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_GITHUB_ID,
        description="GitHub's numeric id of infra_repository (`gh api repos/OWNER/REPO --jq .id`); null: not checked.",
    )
    app_deploy_workflow: WorkflowPath = Field(
        description="The application repository's workflow that calls deploy_workflow (examples/app-repository/.github/workflows/deploy.yml "
        "copied there), e.g. .github/workflows/deploy.yml: the only caller whose runs get the deploy and build identities."
    )
    deploy_workflow: WorkflowPath = Field(
        description="The reusable deploy workflow in infra_repository that the application repository calls, e.g. .github/workflows/deploy.yml."
    )
    infra_ref: GitRef = Field(
        description="The only ref of infra_repository whose deploy and plan workflows are trusted outside pull requests, a full ref such as refs/heads/main."
    )
    plan_workflows: list[WorkflowPath] = Field(
        default=[],
        description="Workflows of infra_repository that run read-only plans (planner account): at their own ref in pull requests, only at infra_ref otherwise.",
    )


class BucketRetentionPolicy(Strict):
    """How long replaced objects stay recoverable (the state bucket and the data buckets)."""

    noncurrent_versions_kept: int = Field(ge=1, le=1000, description="Replaced versions kept per object (1-1000); older ones are deleted.")
    noncurrent_days_kept: int = Field(ge=1, le=3650, description="Days a replaced version is kept (1-3650).")
    soft_delete_retention_days: int = Field(ge=7, le=90, description="Days a deleted object stays restorable (Cloud Storage soft delete: 7-90).")


# A bucket's location cannot change in place: an adopted bucket keeps its own.
BUCKET_LOCATION_DOC = "(a region, or US, EU, ASIA); set it to an adopted bucket's location, as a different one would force its replacement."


class DataBucket(Strict):
    """A Cloud Storage bucket of application data in every environment, made by
    the admin-applied bootstrap (uniform access, versioned, never force-destroyed);
    services get access to it with `bucket_access`."""

    name: NonEmpty = Field(
        description="Name template, {env} and {project} only, e.g. traditions-{project}-{env}; the rendered name must be a valid, globally unique bucket name."
    )
    location: BucketLocation | None = Field(default=None, description=f"The bucket's location {BUCKET_LOCATION_DOC} null: the environment's region.")


class RegistryCleanup(Strict):
    """Artifact Registry cleanup policies of the image repository."""

    keep_recent_versions: int = Field(ge=1, le=1000, description="Most recent image versions always kept (1-1000).")
    delete_untagged_after_days: int = Field(ge=1, le=3650, description="Days after which untagged images are deleted (1-3650).")


class Probe(Strict):
    """An HTTP GET probe of the container (Cloud Run startup or liveness probe)."""

    path: ProbePath = Field(description="Absolute HTTP path probed, e.g. /health.")
    port: int = Field(ge=1, le=65535, description="Container port probed (1-65535), usually the service's port.")
    initial_delay_seconds: int = Field(ge=0, le=240, description="Seconds before the first probe (0-240).")
    timeout_seconds: int = Field(ge=1, le=240, description="Seconds a probe may take (1-240), at most period_seconds.")
    period_seconds: int = Field(ge=1, le=240, description="Seconds between probes (1-240).")
    # Cloud Run: a startup probe's failure_threshold x period_seconds is at
    # most 240 s (checked in rules.py), so never more than 240 failures.
    failure_threshold: int = Field(
        ge=1,
        le=STARTUP_PROBE_MAX_SECONDS,
        description=f"Failed probes before the container is restarted (1-{STARTUP_PROBE_MAX_SECONDS}); "
        f"for a startup probe, failure_threshold x period_seconds is at most {STARTUP_PROBE_MAX_SECONDS} s.",
    )


class Build(Strict):
    """Where the application repository builds the image from."""

    dockerfile: RelativePath = Field(description="Dockerfile, relative to the application repository's root, e.g. mesh/Dockerfile.")
    context: RelativePath = Field(description="Build context, relative to the application repository's root, e.g. . or mesh.")
    service_url_build_args: bool = Field(default=False, description="true: every service URL is passed as a build argument (the gateway bakes them in).")


class Service(Strict):
    """One Cloud Run service, deployed in every environment."""

    name: ServiceName = Field(
        description="Cloud Run service name: lowercase letters, digits and hyphens, starting with a letter; "
        "also the runtime account id `<name>-<environment>` (at most 30 characters)."
    )
    image: ImageName = Field(
        description="Image name in the environment's Artifact Registry repository "
        "(`<region>-docker.pkg.dev/<project>/<registry_repository>/<image>:<tag>`); the tag is a deploy input."
    )
    port: int = Field(ge=1, le=65535, description="Port the container listens on (1-65535); Cloud Run sets PORT to it.")
    build: Build = Field(description="Where CI builds the image from in the application repository.")
    public: bool = Field(
        default=True,
        description="true: anyone may invoke the service; false: only the services that call it (their runtime accounts get the invoker role).",
    )
    url_name: EnvName | None = Field(
        default=None,
        description="Secret id and environment variable name of this service's URL, given to the services that call it "
        "(e.g. JOURNAL_SERVICE_URL); null for a service nobody calls (the gateway).",
    )
    min_instances: int | None = Field(default=None, ge=0, le=1000, description="Minimum instances (0-1000); null: service_defaults.min_instances.")
    max_instances: int | None = Field(
        default=None, ge=1, le=1000, description="Maximum instances (1-1000), at least min_instances; null: service_defaults.max_instances."
    )
    concurrency: int | None = Field(default=None, ge=1, le=1000, description="Concurrent requests per instance (1-1000); null: service_defaults.concurrency.")
    cpu: Cpu | None = Field(default=None, description='CPUs per instance ("1", "2", "4" or "8", a string); null: service_defaults.cpu.')
    memory: Memory | None = Field(default=None, description="Memory per instance, 128Mi to 32Gi (e.g. 512Mi, 2Gi); null: service_defaults.memory.")
    request_timeout_seconds: int | None = Field(
        default=None, ge=1, le=3600, description="Seconds a request may take (1-3600); null: service_defaults.request_timeout_seconds."
    )
    startup_probe: Probe | None = Field(default=None, description="HTTP startup probe; null: Cloud Run's default TCP probe on the port.")
    liveness_probe: Probe | None = Field(default=None, description="HTTP liveness probe; null: none.")
    health_path: HealthPath | None = Field(
        default=None,
        description="Absolute HTTP path probed after every deploy (tools/verify_deploy.py), e.g. /healthcheck; null: readiness only.",
    )
    bucket_access: dict[BucketKey, BucketAccess] = Field(
        default={},
        description="Data bucket key (of data_buckets) -> access of the service's runtime account: objectViewer (read) "
        "or objectAdmin (read and write), granted on that bucket as roles/storage.<value>.",
    )
    env_groups: list[GroupName] = Field(
        default=[], description="Names of env_groups whose variables the service gets, applied in order, then env (later values win)."
    )
    env: dict[EnvName, EnvValue] = Field(
        default={},
        max_length=MAX_ENV_VARS,
        description="Plain, non-secret environment variables (name -> value); values may use {env} {project} {region}, "
        "a data bucket's key (its name) and the environment's vars. Credentials belong in secrets.",
    )
    secrets: dict[EnvName, SecretId] = Field(
        default={},
        max_length=MAX_ENV_VARS,
        description="Environment variable -> Secret Manager secret id (one of operator_secrets), read by reference at "
        "run time; the value never passes through this project.",
    )
    calls: list[ServiceName] = Field(
        default=[],
        description="Services this one calls; each must have a url_name, which this service gets as an environment variable holding the callee's URL.",
    )
    # --- what a real plan would show (README, "What a plan would show") ---
    cpu_idle: bool | None = Field(
        default=None,
        description="true: CPU only while a request is served (billed per request); false: always allocated; null: service_defaults.cpu_idle.",
    )
    invoker_iam_disabled: bool = Field(
        default=False,
        description="true: public through Cloud Run's disabled invoker check instead of an allUsers binding, for "
        "organisations whose domain-restricted sharing refuses allUsers; needs public: true.",
    )


class ServiceDefaults(Strict):
    """Settings of every service that does not set its own."""

    min_instances: int = Field(ge=0, le=1000, description="Minimum instances (0-1000); above 0, instances are billed while idle.")
    # Always set: Cloud Run answers 100 when unset, and provider 6.x would
    # show `100 -> null` on every plan.
    max_instances: int = Field(default=100, ge=1, le=1000, description="Maximum instances (1-1000); always set, as Cloud Run's own default is 100.")
    concurrency: int = Field(ge=1, le=1000, description="Concurrent requests per instance (1-1000).")
    cpu: Cpu = Field(description='CPUs per instance: "1", "2", "4" or "8" (a string).')
    memory: Memory = Field(description="Memory per instance, 128Mi to 32Gi (e.g. 512Mi, 2Gi).")
    request_timeout_seconds: int = Field(ge=1, le=3600, description="Seconds a request may take (1-3600).")
    # With resource limits set, Cloud Run allocates CPU always unless told otherwise.
    cpu_idle: bool = Field(
        default=True,
        description="true: CPU only while a request is served (billed per request); false: always allocated "
        "(billed for every running instance, min instances included).",
    )


class WorkloadIdentity(Strict):
    """The environment's Workload Identity pool and GitHub OIDC provider. Their
    condition and mapping are generated from `github:` (platform_config/workload_identity.py)."""

    pool_id: PoolOrProviderId = Field(description="Workload Identity pool id (4-32 lowercase letters, digits or hyphens), e.g. github-pool.")
    provider_id: PoolOrProviderId = Field(description="OIDC provider id in the pool (4-32 lowercase letters, digits or hyphens), e.g. github-oidc.")


class Environment(Strict):
    """One deployment target: its own Google Cloud project."""

    project_id: ProjectId = Field(description="Google Cloud project id (6-30 lowercase letters, digits or hyphens); one project per environment.")
    project_number: ProjectNumber | None = Field(
        default=None,
        description="The project's number (its digits, quoted or not), needed by CI only (Workload Identity provider name, the services' "
        "URLs): `gcloud projects describe PROJECT --format='value(projectNumber)'`; null: CI refuses to deploy.",
    )
    region: Region = Field(description="Region of the services, the registry and (by default) the state bucket, e.g. us-east4 (`gcloud run regions list`).")
    deploy_branch: BranchName = Field(description="Branch of the application repository whose pushes deploy this environment, e.g. main.")
    registry_repository: RegistryRepository = Field(description="Artifact Registry (docker) repository id in the project, e.g. mindmirror.")
    state_bucket: BucketName = Field(
        description="Cloud Storage bucket holding the OpenTofu state (globally unique name, 3-63 characters, no 'goog' prefix, no 'google')."
    )
    state_bucket_location: BucketLocation | None = Field(default=None, description=f"The state bucket's location {BUCKET_LOCATION_DOC} null: region.")
    deployer_account_id: AccountId = Field(description="Service account id (6-30 characters) of the CI deployer, which applies the app stack.")
    planner_account_id: AccountId = Field(description="Service account id of the CI planner: read-only plans (pull requests, drift).")
    builder_account_id: AccountId = Field(description="Service account id of the CI image builder: pushes images to the registry.")
    workload_identity: WorkloadIdentity = Field(description="How GitHub Actions tokens become Google credentials.")
    vars: dict[VarName, EnvValue] = Field(
        default={},
        description="Values of `{name}` placeholders in services' and env_groups' values for this environment (name: lowercase and '_').",
    )
    protected: bool = Field(
        default=True,
        description="true (production): the deploy stops in its first job while github.app_repository_id or "
        "github.infra_repository_id is unset (`make repository-ids`), and before the deployer's token unless the "
        "application repository's GitHub environment of this name has required reviewers that administrators cannot "
        "bypass; false: neither is required (e.g. staging).",
    )
    deletion_protection: bool = Field(
        description="true: Cloud Run services are deletion-protected (except first_apply_services and retiring_services), e.g. in production."
    )
    # Not strict: in strict mode pydantic takes only Adoptable instances, not their names.
    adopt: list[Annotated[Adoptable, Field(strict=False)]] = Field(
        default=[],
        description="Resources made by hand that already exist and are imported, not created (creating them fails with 409).",
    )
    adopt_buckets: list[BucketKey] = Field(
        default=[], description="Data buckets (keys of data_buckets) that already exist in this environment and are imported."
    )
    adopt_secrets: list[SecretId] = Field(default=[], description="URL secrets (url_name values, service_urls_secret) that already exist and are imported.")
    bootstrap_backend: Literal["local", "gcs"] = Field(
        default="local",
        description="Where the bootstrap stack's state lives: local (the admin's checkout), or gcs once it was moved into the state bucket.",
    )
    # --- adoption and the admin-applied layout (README, "Moving resources between stacks") ---
    adopt_services: list[ServiceName] = Field(
        default=[], description="Configured services whose Cloud Run service already exists (app stack): imported instead of failing with 409."
    )
    adopt_runtime_accounts: list[ServiceName] = Field(
        default=[],
        description="Configured services whose runtime service account already exists (bootstrap stack): imported instead of failing with 409.",
    )
    first_apply_services: list[ServiceName] = Field(
        default=[],
        description="Services whose first apply has not succeeded yet: deletion protection stays off so a failed creation "
        "can be replaced; remove the name once the service is up.",
    )
    retiring_services: list[ServiceName] = Field(
        default=[],
        description="Services about to be removed: deletion protection off so the removal can destroy them; deploy, "
        "then remove them from services and from here (README, Removing a service).",
    )
    move_to_bootstrap: bool = Field(
        default=False,
        description="true: the environment was applied when the app stack held the runtime accounts, URL secrets and "
        "the traditions bucket (layout 1's only data bucket); the bootstrap imports them and the app stack forgets them. "
        "Set back to false once both stacks are applied.",
    )


class Platform(Strict):
    """The whole platform: what runs, where, and who may deploy it."""

    name: PlatformName = Field(description="Platform name (2-31 lowercase letters, digits, hyphens), the `platform` label of every resource.")
    github: GitHub = Field(description="GitHub repositories and workflows allowed to build, plan and deploy.")
    apis: list[ApiName] = Field(description="Google APIs enabled in every project, e.g. run.googleapis.com; none is ever switched off.")
    deployer_project_roles: list[RoleName] = Field(
        description="Predefined project-level roles of the CI deployer (read-only ones, e.g. roles/artifactregistry.reader); never roles/owner or roles/editor."
    )
    deployer_permissions: list[Permission] = Field(
        description="Permissions of the deployer's custom role (one per environment), exactly what deploying needs, e.g. run.services.update."
    )
    bucket_retention: BucketRetentionPolicy = Field(description="Object version retention of the state bucket and the data buckets.")
    registry_cleanup: RegistryCleanup = Field(description="Cleanup policies of the image registry.")
    data_buckets: dict[BucketKey, DataBucket] = Field(
        default={},
        description="Buckets of application data by key, made in every environment; the key is also the {placeholder} "
        "of the bucket's name in env values and the bucket's `purpose` label.",
    )
    service_urls_secret: NonEmpty = Field(
        description="Id template of the secret holding every service URL as JSON, {env} and {project} only, e.g. service-urls-{env}."
    )
    operator_secrets: list[SecretId] = Field(
        description="Secret Manager secrets created and filled by operators (values never pass through this project); services' secrets must name one of them."
    )
    env_groups: dict[GroupName, Annotated[dict[EnvName, EnvValue], Field(max_length=MAX_ENV_VARS)]] = Field(
        default={},
        description="Named sets of plain environment variables shared by services (service env_groups); same placeholders as env.",
    )
    service_defaults: ServiceDefaults = Field(description="Values of the service settings a service leaves unset (null).")
    services: list[Service] = Field(min_length=1, description="The Cloud Run services, deployed in every environment.")
    environments: dict[EnvironmentName, Environment] = Field(
        min_length=1, description="Environments by name (2-16 lowercase letters/digits, e.g. staging), each its own project."
    )

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)
