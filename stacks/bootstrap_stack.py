"""Per-environment prerequisites of every deploy, applied once by an admin.

Its state starts on a local backend: the bucket that will hold state cannot
hold the first state of the stack that creates it.
"""

from __future__ import annotations

from cdktf import GcsBackend, LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

from constructs_lib.ci_deployer import CiDeployer
from constructs_lib.ci_identities import CiIdentity, ci_builder, ci_planner
from constructs_lib.docker_registry import DockerRegistry
from constructs_lib.github_workload_identity import GitHubWorkloadIdentity
from constructs_lib.hardened_bucket import HardenedBucket
from constructs_lib.operator_secrets import OperatorSecretsPresent
from constructs_lib.ordering import after
from constructs_lib.project_services import ProjectServices
from constructs_lib.published_secret import WRITER_ROLES, PublishedSecret
from constructs_lib.runtime_identity import RuntimeIdentity
from platform_config import Adoptable, Platform, ci_role_id, runtime_account_id, url_secret_ids
from platform_config.gcp import BUCKET_ACCESS_ROLES
from platform_config.naming import BOOTSTRAP_STATE_PREFIX, LOCAL_STATE_FILE, data_bucket_name
from platform_config.workload_identity import attribute_condition, attribute_mapping

from .environment import environment_labels, google_provider
from .layout_move import layout_1_data_buckets


class BootstrapStack(TerraformStack):
    def __init__(self, scope: Construct, id: str, *, platform: Platform, env_name: str) -> None:
        super().__init__(scope, id)
        self.platform = platform
        self.env_name = env_name
        self.environment = platform.environments[env_name]
        self.adopt = set(self.environment.adopt)
        self.labels = environment_labels(platform, env_name)

        self._backend_and_provider()
        apis = ProjectServices(self, "apis", project=self.environment.project_id, apis=platform.apis)
        registry = self._registry()
        state_bucket = self._state_bucket()
        deployer = self._deployer(state_bucket, registry)
        planner, builder = self._planner_and_builder(state_bucket, registry)
        github = self._github_workload_identity(deployer, planner, builder)
        admin_owned = self._admin_owned_app_resources(deployer, planner)
        after(apis.services, registry, state_bucket, deployer, planner, builder, github, *admin_owned)
        self._outputs(deployer, planner, builder, github, registry, state_bucket)

    def _backend_and_provider(self) -> None:
        if self.environment.bootstrap_backend == "gcs":
            GcsBackend(self, bucket=self.environment.state_bucket, prefix=BOOTSTRAP_STATE_PREFIX)
        else:
            LocalBackend(self, path=LOCAL_STATE_FILE)
        google_provider(self, self.environment)

    def _registry(self) -> DockerRegistry:
        environment, cleanup = self.environment, self.platform.registry_cleanup
        return DockerRegistry(
            self,
            "registry",
            project=environment.project_id,
            region=environment.region,
            repository_id=environment.registry_repository,
            keep_recent_versions=cleanup.keep_recent_versions,
            delete_untagged_after_days=cleanup.delete_untagged_after_days,
            labels=self.labels,
            exists=Adoptable.registry in self.adopt,
        )

    def _state_bucket(self) -> HardenedBucket:
        environment = self.environment
        return HardenedBucket(
            self,
            "state-bucket",
            project=environment.project_id,
            name=environment.state_bucket,
            location=environment.state_bucket_location or environment.region,
            retention=self.platform.bucket_retention,
            labels={**self.labels, "purpose": "tofu-state"},
            exists=Adoptable.state_bucket in self.adopt,
        )

    def _deployer(self, state_bucket: HardenedBucket, registry: DockerRegistry) -> CiDeployer:
        """The identity CI deploys as, with its access to state and images."""
        deployer = CiDeployer(
            self,
            "deployer",
            project=self.environment.project_id,
            account_id=self.environment.deployer_account_id,
            project_roles=self.platform.deployer_project_roles,
            custom_role_permissions=self.platform.deployer_permissions,
            role_id=ci_role_id("deployer", self.env_name),
            exists=Adoptable.deployer in self.adopt,
        )
        state_bucket.grant("deployer-state-access", role="roles/storage.objectAdmin", member=deployer.member)
        registry.grant("deployer-image-push", role="roles/artifactregistry.writer", member=deployer.member)
        return deployer

    def _planner_and_builder(self, state_bucket: HardenedBucket, registry: DockerRegistry) -> tuple[CiIdentity, CiIdentity]:
        """CI identities besides the deployer, with their access to state and images."""
        project, env_name, environment = self.environment.project_id, self.env_name, self.environment
        planner = ci_planner(self, "planner", project=project, account_id=environment.planner_account_id, role_id=ci_role_id("planner", env_name))
        state_bucket.grant("planner-state-read", role="roles/storage.objectViewer", member=planner.member)
        builder = ci_builder(self, "builder", project=project, account_id=environment.builder_account_id, role_id=ci_role_id("builder", env_name))
        registry.grant("builder-image-push", role="roles/artifactregistry.writer", member=builder.member)
        return planner, builder

    def _github_workload_identity(self, deployer: CiDeployer, planner: CiIdentity, builder: CiIdentity) -> GitHubWorkloadIdentity:
        """Who may act as which CI identity."""
        wi = self.environment.workload_identity
        github = GitHubWorkloadIdentity(
            self,
            "github",
            project=self.environment.project_id,
            pool_id=wi.pool_id,
            provider_id=wi.provider_id,
            attribute_condition=attribute_condition(self.platform, self.env_name),
            attribute_mapping=attribute_mapping(self.platform, self.env_name),
            pool_exists=Adoptable.workload_identity_pool in self.adopt,
            provider_exists=Adoptable.workload_identity_provider in self.adopt,
        )
        github.allow_impersonation("deployer-impersonation", service_account_name=deployer.account.name, accesses=["deploy"])
        # The deploy's read-only jobs (preflight, plan, verify) carry the same
        # claims as its build jobs (no claim names the job), so build tokens
        # may plan too; plan tokens (pull requests, drift) may never push.
        github.allow_impersonation("planner-impersonation", service_account_name=planner.account.name, accesses=["plan", "build"])
        github.allow_impersonation("builder-impersonation", service_account_name=builder.account.name, accesses=["build"])
        return github

    def _outputs(
        self,
        deployer: CiDeployer,
        planner: CiIdentity,
        builder: CiIdentity,
        github: GitHubWorkloadIdentity,
        registry: DockerRegistry,
        state_bucket: HardenedBucket,
    ) -> None:
        # The identities CI uses (the workflows derive the same from the configuration).
        TerraformOutput(self, "deployer_email", value=deployer.account.email)
        TerraformOutput(self, "planner_email", value=planner.account.email)
        TerraformOutput(self, "builder_email", value=builder.account.email)
        TerraformOutput(self, "workload_identity_provider", value=github.provider.name)
        TerraformOutput(self, "registry_url_prefix", value=registry.url_prefix)
        TerraformOutput(self, "state_bucket", value=state_bucket.bucket.name)

    # --- what the app stack uses but CI must not be able to create (issue 11) ---
    def _admin_owned_app_resources(self, deployer: CiDeployer, planner: CiIdentity) -> list[Construct]:
        """Runtime identities with their secret access and the deployer's
        actAs on each, the URL secrets with the deployer's per-secret rights
        (and the planner's read), the data buckets and the services' access
        to them. The app stack names them."""
        # Read at plan time: a missing operator secret stops the plan before anything changes.
        OperatorSecretsPresent(
            self,
            "operator-secrets",
            project=self.environment.project_id,
            secret_ids=[secret for service in self.platform.services for secret in service.secrets.values()],
        )
        identities = self._runtime_identities(deployer)
        buckets = self._data_buckets(identities)
        secrets = self._url_secrets(deployer, planner)
        return [*identities.values(), *buckets, *secrets]

    def _runtime_identities(self, deployer: CiDeployer) -> dict[str, RuntimeIdentity]:
        environment = self.environment
        return {
            service.name: RuntimeIdentity(
                self,
                # The app stack's construct paths of layout 1, so a moved
                # resource keeps its address (README, Moving resources between stacks).
                service.name,
                project=environment.project_id,
                account_id=runtime_account_id(service.name, self.env_name),
                service_name=service.name,
                secrets=list(service.secrets.values()),
                deployer_member=deployer.member,
                exists=environment.move_to_bootstrap or service.name in environment.adopt_runtime_accounts,
            )
            for service in self.platform.services
        }

    def _data_buckets(self, identities: dict[str, RuntimeIdentity]) -> list[HardenedBucket]:
        platform, environment = self.platform, self.environment
        moved_buckets = layout_1_data_buckets(platform)
        buckets = []
        for key, configured in platform.data_buckets.items():
            bucket = HardenedBucket(
                self,
                # The key is the construct id, as in layout 1 (traditions), so a moved bucket keeps its address.
                key,
                project=environment.project_id,
                name=data_bucket_name(platform, self.env_name, key),
                location=configured.location or environment.region,
                retention=platform.bucket_retention,
                labels={**self.labels, "purpose": key},
                exists=key in environment.adopt_buckets or (environment.move_to_bootstrap and key in moved_buckets),
            )
            for service in platform.services:
                if key in service.bucket_access:
                    role = BUCKET_ACCESS_ROLES[service.bucket_access[key]]
                    bucket.grant(f"{service.name}-{key}-access", role=role, member=identities[service.name].member)
            buckets.append(bucket)
        return buckets

    def _url_secrets(self, deployer: CiDeployer, planner: CiIdentity) -> list[PublishedSecret]:
        platform, environment = self.platform, self.environment
        project = environment.project_id
        adopted = set(environment.adopt_secrets)
        url_names = [s.url_name for s in platform.services if s.url_name]
        # Construct ids of layout 1 (url-secret-<URL_NAME>, url-secret-all), so moved secrets keep their addresses.
        construct_ids = [*(f"url-secret-{name}" for name in url_names), "url-secret-all"]
        secrets = []
        for construct_id, secret_id in zip(construct_ids, url_secret_ids(platform, self.env_name), strict=True):
            secret = PublishedSecret(
                self,
                construct_id,
                project=project,
                secret_id=secret_id,
                labels=self.labels,
                exists=environment.move_to_bootstrap or secret_id in adopted,
            )
            # CI writes each URL; the provider reads versions back on every refresh, plans included.
            secret.grant("deployer", roles=WRITER_ROLES, member=deployer.member)
            secret.grant("planner", roles=("roles/secretmanager.secretAccessor",), member=planner.member)
            secrets.append(secret)
        return secrets
