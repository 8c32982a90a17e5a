"""One Cloud Run service with its own identity and the access it needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_google.cloud_run_v2_service import (
    CloudRunV2Service,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    CloudRunV2ServiceTemplateContainersEnv,
    CloudRunV2ServiceTemplateContainersEnvValueSource,
    CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef,
    CloudRunV2ServiceTemplateContainersLivenessProbe,
    CloudRunV2ServiceTemplateContainersLivenessProbeHttpGet,
    CloudRunV2ServiceTemplateContainersPorts,
    CloudRunV2ServiceTemplateContainersResources,
    CloudRunV2ServiceTemplateContainersStartupProbe,
    CloudRunV2ServiceTemplateContainersStartupProbeHttpGet,
    CloudRunV2ServiceTemplateScaling,
)
from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_member import CloudRunV2ServiceIamMember
from constructs import Construct

from platform_config.model import Probe

from .adoption import adopt_if


@dataclass(frozen=True)
class ContainerSpec:
    """Everything about the running container; all of it comes from configuration."""

    image: str
    port: int
    cpu: str
    memory: str
    min_instances: int
    # Always set: unset, provider 6.x plans `100 -> null` on every run.
    max_instances: int
    concurrency: int
    request_timeout_seconds: int
    # CPU only while serving requests; with limits set, Cloud Run otherwise
    # allocates it always (and bills min instances around the clock).
    cpu_idle: bool
    # Plain, non-sensitive values only.
    env: Mapping[str, str] = field(default_factory=dict)
    # Environment variable -> Secret Manager secret id, read by reference.
    secret_env: Mapping[str, str] = field(default_factory=dict)
    startup_probe: Probe | None = None
    liveness_probe: Probe | None = None


ROLLOUT_ANNOTATION = "rollout"


class CloudRunService(Construct):
    """A Cloud Run v2 service running as its own service account (created,
    with its secret access and the deployer's actAs, by the admin-applied
    RuntimeIdentity). Secrets reach the container as `secret_key_ref`
    references; no payload enters configuration or state.

    `invoker_iam_disabled`: a public service without an allUsers binding
    (for organisations whose domain-restricted sharing refuses allUsers).
    `exists`: an existing service, adopted with an import block.

    Example::

        container = ContainerSpec(
            image="europe-west1-docker.pkg.dev/my-project/images/api:v1", port=8080, cpu="1", memory="512Mi",
            min_instances=0, max_instances=3, concurrency=80, request_timeout_seconds=300, cpu_idle=True,
            env={"ENVIRONMENT": "staging"}, secret_env={"DATABASE_URL": "DATABASE_URL"},
        )
        api = CloudRunService(
            stack, "api", project="my-project", region="europe-west1", name="api",
            service_account_email="api-staging@my-project.iam.gserviceaccount.com", container=container,
            labels={}, deletion_protection=True,
        )
        api.grant_invoker("public-invoker", member="allUsers")
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        region: str,
        name: str,
        service_account_email: str,
        container: ContainerSpec,
        labels: dict[str, str],
        deletion_protection: bool,
        invoker_iam_disabled: bool = False,
        exists: bool = False,
        depends_on=None,
        rollout: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.member = f"serviceAccount:{service_account_email}"
        self.service = CloudRunV2Service(
            self,
            "service",
            project=project,
            location=region,
            name=name,
            ingress="INGRESS_TRAFFIC_ALL",
            deletion_protection=deletion_protection,
            invoker_iam_disabled=invoker_iam_disabled,
            labels=labels,
            template=CloudRunV2ServiceTemplate(
                service_account=service_account_email,
                labels=labels,
                # A new value makes a new revision, which reads the latest secret versions.
                annotations={ROLLOUT_ANNOTATION: rollout} if rollout is not None else None,
                scaling=CloudRunV2ServiceTemplateScaling(
                    min_instance_count=container.min_instances,
                    max_instance_count=container.max_instances,
                ),
                max_instance_request_concurrency=container.concurrency,
                timeout=f"{container.request_timeout_seconds}s",
                containers=[_container(container)],
            ),
            depends_on=depends_on,
            # The service-level `scaling` block is Optional but not Computed in
            # provider 6.50.0 (resource_cloud_run_v2_service.go, schema "scaling"),
            # and Read stores what the API returns for a service created without
            # one (flattenCloudRunV2ServiceScaling): every plan would show
            # `- scaling {...}`. Fixed upstream in 7.13.0 (magic-modules #15808).
            # Instance counts are set per revision (template.scaling) instead.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["scaling"]),
        )
        adopt_if(self.service, exists, f"projects/{project}/locations/{region}/services/{name}")

    @property
    def uri(self) -> str:
        return self.service.uri

    def grant_invoker(self, id: str, *, member: str) -> CloudRunV2ServiceIamMember:
        return CloudRunV2ServiceIamMember(
            self,
            id,
            project=self.service.project,
            location=self.service.location,
            name=self.service.name,
            role="roles/run.invoker",
            member=member,
        )


def _container(spec: ContainerSpec) -> CloudRunV2ServiceTemplateContainers:
    plain = [CloudRunV2ServiceTemplateContainersEnv(name=k, value=v) for k, v in spec.env.items()]
    secret = [
        CloudRunV2ServiceTemplateContainersEnv(
            name=k,
            value_source=CloudRunV2ServiceTemplateContainersEnvValueSource(
                secret_key_ref=CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef(secret=v, version="latest")
            ),
        )
        for k, v in spec.secret_env.items()
    ]
    return CloudRunV2ServiceTemplateContainers(
        image=spec.image,
        ports=CloudRunV2ServiceTemplateContainersPorts(container_port=spec.port),
        resources=CloudRunV2ServiceTemplateContainersResources(limits={"cpu": spec.cpu, "memory": spec.memory}, cpu_idle=spec.cpu_idle),
        env=sorted(plain + secret, key=lambda e: e.name),
        startup_probe=_probe(
            spec.startup_probe,
            CloudRunV2ServiceTemplateContainersStartupProbe,
            CloudRunV2ServiceTemplateContainersStartupProbeHttpGet,
        ),
        liveness_probe=_probe(
            spec.liveness_probe,
            CloudRunV2ServiceTemplateContainersLivenessProbe,
            CloudRunV2ServiceTemplateContainersLivenessProbeHttpGet,
        ),
    )


def _probe(probe: Probe | None, probe_type, http_get_type):
    """Startup and liveness probes share one shape but have distinct binding types."""
    if probe is None:
        return None
    return probe_type(
        http_get=http_get_type(path=probe.path, port=probe.port),
        initial_delay_seconds=probe.initial_delay_seconds,
        timeout_seconds=probe.timeout_seconds,
        period_seconds=probe.period_seconds,
        failure_threshold=probe.failure_threshold,
    )
