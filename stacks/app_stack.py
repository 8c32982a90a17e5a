"""Per-environment application, applied by CI on every deploy: Cloud Run
services, the gateway, their invoker bindings, and the current value of the
secrets that publish the services' URLs. Whatever needs admin rights (the
services' identities and their grants, the URL secrets themselves, the
data buckets) is the bootstrap stack's, named here, never referenced.

State lives in the environment's state bucket, named from configuration: a
reference to the local-backend bootstrap stack would become a remote-state
lookup of a local file that CI cannot see.
"""

from __future__ import annotations

from cdktf import (
    Fn,
    GcsBackend,
    Postcondition,
    TerraformOutput,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
    TerraformVariableValidationConfig,
    Token,
)
from cdktf_cdktf_provider_google.data_google_artifact_registry_docker_image import (
    DataGoogleArtifactRegistryDockerImage,
)
from cdktf_cdktf_provider_google.data_google_artifact_registry_repositories import (
    DataGoogleArtifactRegistryRepositories,
)
from cdktf_cdktf_provider_google.data_google_project import DataGoogleProject
from cdktf_cdktf_provider_google.data_google_service_accounts import DataGoogleServiceAccounts
from constructs import Construct

from constructs_lib.cloud_run_service import CloudRunService, ContainerSpec
from constructs_lib.published_secret import PublishedSecretValue
from platform_config import Platform, Service, app_state_prefix, image_tag_variable_name, runtime_account_id
from platform_config.naming import (
    IMAGE_TAGS_OUTPUT,
    INFRASTRUCTURE_COMMIT_OUTPUT,
    INFRASTRUCTURE_COMMIT_VARIABLE,
    ROLLOUT_OUTPUT,
    ROLLOUT_VARIABLE,
    UNBUILT_IMAGES_VARIABLE,
    bootstrap_stack_name,
    placeholder_values,
    registry_url_prefix,
    service_account_email,
    service_url,
    service_urls_secret_id,
)
from platform_config.templates import render

from .environment import environment_labels, google_provider
from .layout_move import forget_moved_resources

# Conditions below are `${...}`: in Terraform JSON a string is a template, so
# a bare expression would be a literal string, which tofu refuses ("must
# refer to at least one object").
# Docker's tag grammar.
IMAGE_TAG_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


def json_url_key(url_name: str) -> str:
    """AGENT_SERVICE_URL -> agent_service_url, the key in service-urls-<env>."""
    return url_name.lower()


class AppStack(TerraformStack):
    def __init__(self, scope: Construct, id: str, *, platform: Platform, env_name: str) -> None:
        super().__init__(scope, id)
        self.platform = platform
        self.env_name = env_name
        self.environment = platform.environments[env_name]
        self._backend_and_provider()
        project_number = DataGoogleProject(self, "project", project_id=self.environment.project_id).number
        registry_check = self._registry_check()
        image_tags, image_refs = self._images(registry_check)
        identities_check = self._runtime_identities_check()
        rollout = self._rollout()
        services = self._services(project_number, image_refs, rollout, identities_check)
        self._invoker_grants(services)
        self._url_secret_values(services)
        if self.environment.move_to_bootstrap:
            forget_moved_resources(self, platform, env_name)
        self._outputs(services, image_tags, rollout)

    def _backend_and_provider(self) -> None:
        GcsBackend(self, bucket=self.environment.state_bucket, prefix=app_state_prefix(self.env_name))
        google_provider(self, self.environment)

    def _rollout(self) -> str:
        return TerraformVariable(
            self,
            ROLLOUT_VARIABLE,
            type="string",
            default="",
            nullable=False,
            description="Any new value starts new revisions of every service (after a secret rotation); CI passes the deploy's rollout input",
        ).string_value

    def _services(self, project_number: str, image_refs: dict[str, str], rollout: str, identities_check) -> dict[str, CloudRunService]:
        """One Cloud Run service per configured service, by name."""
        platform, env_name, environment = self.platform, self.env_name, self.environment
        project, region = environment.project_id, environment.region
        labels = environment_labels(platform, env_name)
        placeholders = placeholder_values(platform, env_name)
        services: dict[str, CloudRunService] = {}
        for service in platform.services:
            # Deterministic URLs instead of resource references: services call
            # each other in a cycle (journal <-> users) within one apply.
            url_env: dict[str, str] = {}
            for called in service.calls:
                url_name = platform.service(called).url_name
                assert url_name is not None  # cross_check: every called service has a url_name
                url_env[url_name] = service_url(called, project_number, region)
            spec = _container_spec(platform, service, placeholders, url_env, image_refs[service.image])
            services[service.name] = CloudRunService(
                self,
                service.name,
                project=project,
                region=region,
                name=service.name,
                service_account_email=service_account_email(runtime_account_id(service.name, env_name), project),
                container=spec,
                labels={**labels, "service": service.name},
                # Off while a first creation may need replacing, or before a removal.
                deletion_protection=environment.deletion_protection and service.name not in (*environment.first_apply_services, *environment.retiring_services),
                invoker_iam_disabled=service.invoker_iam_disabled,
                exists=service.name in environment.adopt_services,
                # A plan before the bootstrap fails on the check, not on a revision.
                depends_on=[identities_check],
                rollout=rollout,
            )
        return services

    def _invoker_grants(self, services: dict[str, CloudRunService]) -> None:
        """Public services: allUsers (unless invoker IAM is off); private
        ones: exactly the services that call them."""
        for service in self.platform.services:
            if service.public:
                if not service.invoker_iam_disabled:
                    services[service.name].grant_invoker("public-invoker", member="allUsers")
                continue
            for caller in self.platform.services:
                if service.name in caller.calls:
                    services[service.name].grant_invoker(f"invoker-{caller.name}", member=services[caller.name].member)

    def _url_secret_values(self, services: dict[str, CloudRunService]) -> None:
        """Each service URL, and the JSON of them all. The secrets themselves,
        and the deployer's right to add versions to them, are the bootstrap's."""
        project = self.environment.project_id
        uris = {s.url_name: services[s.name].uri for s in self.platform.services if s.url_name}  # url_name -> URI (unique: cross_check)
        for url_name, uri in uris.items():
            PublishedSecretValue(self, f"url-secret-{url_name}", project=project, secret_id=url_name, value=uri)
        PublishedSecretValue(
            self,
            "url-secret-all",
            project=project,
            secret_id=service_urls_secret_id(self.platform, self.env_name),
            value=Fn.jsonencode({json_url_key(url_name): uri for url_name, uri in uris.items()}),
        )

    def _outputs(self, services: dict[str, CloudRunService], image_tags: dict[str, str], rollout: str) -> None:
        TerraformOutput(self, "service_urls", value={name: svc.uri for name, svc in services.items()})
        # What runs now, for plans that must not change it (pull requests, drift).
        TerraformOutput(self, IMAGE_TAGS_OUTPUT, value=image_tags)
        TerraformOutput(self, ROLLOUT_OUTPUT, value=rollout)
        commit = TerraformVariable(
            self,
            INFRASTRUCTURE_COMMIT_VARIABLE,
            type="string",
            default="",
            nullable=False,
            description="This repository's commit the deploy synthesized from; CI passes it, `make deployed` shows it",
        )
        TerraformOutput(self, INFRASTRUCTURE_COMMIT_OUTPUT, value=commit.string_value)

    def _runtime_identities_check(self) -> DataGoogleServiceAccounts:
        """Fails `tofu plan` early, naming what is missing, when the
        bootstrap (which creates the runtime accounts) was not applied yet."""
        env_name = self.env_name
        expected = [runtime_account_id(s.name, env_name) for s in self.platform.services]
        return DataGoogleServiceAccounts(
            self,
            "runtime-identities-check",
            project=self.environment.project_id,
            lifecycle=TerraformResourceLifecycle(
                postcondition=[
                    Postcondition(
                        condition=f"${{length(setsubtract({_hcl_list(expected)}, [for a in self.accounts : a.account_id])) == 0}}",
                        error_message=(
                            f'runtime identity missing for ${{join(", ", setsubtract({_hcl_list(expected)}, '
                            f"[for a in self.accounts : a.account_id]))}}: apply {bootstrap_stack_name(env_name)} first, "
                            "as an admin, from the change that adds the service and BEFORE it is merged (README, Adding a service)."
                        ),
                    )
                ]
            ),
        )

    def _registry_check(self) -> DataGoogleArtifactRegistryRepositories:
        """Fails `tofu plan` early, with the fix, when the registry is missing."""
        env_name = self.env_name
        project, region, repository = self.environment.project_id, self.environment.region, self.environment.registry_repository
        return DataGoogleArtifactRegistryRepositories(
            self,
            "registry-check",
            project=project,
            location=region,
            lifecycle=TerraformResourceLifecycle(
                postcondition=[
                    Postcondition(
                        condition=f'${{contains([for r in self.repositories : r.repository_id], "{repository}")}}',
                        error_message=(
                            f"Artifact Registry repository {repository} does not exist in {project} ({region}): "
                            f"apply {bootstrap_stack_name(env_name)} first (README, Deploy from scratch)."
                        ),
                    )
                ]
            ),
        )

    def _images(self, registry_check: DataGoogleArtifactRegistryRepositories) -> tuple[dict[str, str], dict[str, str]]:
        """(image -> tag, image -> reference by digest). One required input per
        image, checked at plan time: the tag is well-formed and the image with
        that tag is in the registry. Services run the digest the plan read
        (`self_link`), so the apply deploys exactly the reviewed image even if
        the tag is pushed again in between. A plan of a change that adds an
        image (pull requests, drift) lists it in the unbuilt images: it is
        planned by tag, unread (no deploy has built it yet); deploys pass []."""
        project, region, repository = self.environment.project_id, self.environment.region, self.environment.registry_repository
        TerraformVariable(
            self,
            UNBUILT_IMAGES_VARIABLE,
            type="list(string)",
            default=[],
            nullable=False,
            description="Plans only: images no deploy has built yet (a service added by the change), planned by tag; deploys pass []",
        )
        tags: dict[str, str] = {}
        refs: dict[str, str] = {}
        for image in sorted({s.image for s in self.platform.services}):
            name = image_tag_variable_name(image)
            variable = TerraformVariable(
                self,
                name,
                type="string",
                nullable=False,
                description=f"Tag of the {image} image to deploy, e.g. v1.0.0-22403cf (set by CI: -var {name}=...)",
                validation=[
                    TerraformVariableValidationConfig(
                        condition=f'${{can(regex("{IMAGE_TAG_PATTERN}", var.{name}))}}',
                        error_message=f"{name} must be a Docker image tag such as v1.0.0-22403cf; pass -var {name}=<tag>.",
                    )
                ],
            )
            is_unbuilt = f'contains(var.{UNBUILT_IMAGES_VARIABLE}, "{image}")'
            pushed = DataGoogleArtifactRegistryDockerImage(
                self,
                f"image-check-{image}",
                count=Token.as_number(f"${{{is_unbuilt} ? 0 : 1}}"),
                project=project,
                location=region,
                repository_id=repository,
                image_name=f"{image}:{variable.string_value}",
                # Read only once the registry is known to exist, so a missing
                # registry is reported as such rather than as a missing image.
                depends_on=[registry_check],
            )
            # one(): null, not an error, when the check is not read (count 0).
            by_tag = f"{registry_url_prefix(region, project, repository)}/{image}:${{var.{name}}}"
            tags[image] = variable.string_value
            refs[image] = f'${{{is_unbuilt} ? "{by_tag}" : one(data.{pushed.terraform_resource_type}.{pushed.friendly_unique_id}[*].self_link)}}'
        return tags, refs


def _container_spec(platform: Platform, service: Service, placeholders: dict[str, str], url_env: dict[str, str], image: str) -> ContainerSpec:
    defaults = platform.service_defaults
    env: dict[str, str] = {}
    for group in service.env_groups:
        env.update(platform.env_groups[group])
    env.update(service.env)
    return ContainerSpec(
        image=image,
        port=service.port,
        cpu=service.cpu or defaults.cpu,
        memory=service.memory or defaults.memory,
        min_instances=_first(service.min_instances, defaults.min_instances),
        max_instances=_first(service.max_instances, defaults.max_instances),
        cpu_idle=_first(service.cpu_idle, defaults.cpu_idle),
        concurrency=service.concurrency or defaults.concurrency,
        request_timeout_seconds=service.request_timeout_seconds or defaults.request_timeout_seconds,
        env={**{k: render(v, placeholders) for k, v in env.items()}, **url_env},
        secret_env=dict(service.secrets),
        startup_probe=service.startup_probe,
        liveness_probe=service.liveness_probe,
    )


def _hcl_list(values: list[str]) -> str:
    """An HCL list of string literals, for expressions."""
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _first(value, default):
    """`value` unless unset; 0 is a real value (scale to zero)."""
    return default if value is None else value
