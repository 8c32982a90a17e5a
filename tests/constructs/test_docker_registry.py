from constructs_lib.docker_registry import DockerRegistry
from constructs_lib.hardened_bucket import SECONDS_PER_DAY

from ..tfjson import only, resources
from .bare_stack import MEMBER, PROJECT, REGION, bare_stack, imports, synth


def build(**overrides) -> tuple[DockerRegistry, dict]:
    stack = bare_stack()
    kwargs = dict(project=PROJECT, region=REGION, repository_id="images", keep_recent_versions=7, delete_untagged_after_days=3, labels={})
    registry = DockerRegistry(stack, "registry", **{**kwargs, **overrides})
    registry.grant("pusher", role="roles/artifactregistry.writer", member=MEMBER)
    return registry, synth(stack)


def test_docker_repository_keeps_recent_versions_and_deletes_old_untagged():
    _, stack = build()
    repository = only(stack, "google_artifact_registry_repository")
    assert repository["format"] == "DOCKER"
    assert repository["cleanup_policy_dry_run"] is False
    policies = {p["id"]: p for p in repository["cleanup_policies"]}
    assert policies["keep-recent-versions"]["action"] == "KEEP"
    assert policies["keep-recent-versions"]["most_recent_versions"] == {"keep_count": 7}
    assert policies["delete-old-untagged"]["action"] == "DELETE"
    assert policies["delete-old-untagged"]["condition"] == {"tag_state": "UNTAGGED", "older_than": f"{3 * SECONDS_PER_DAY}s"}


def test_url_prefix_and_grant_on_the_repository_only():
    registry, stack = build()
    assert registry.url_prefix == f"{REGION}-docker.pkg.dev/{PROJECT}/images"
    grant = only(stack, "google_artifact_registry_repository_iam_member")
    assert grant["member"] == MEMBER and grant["role"] == "roles/artifactregistry.writer"
    assert not resources(stack, "google_project_iam_member")


def test_adoption_imports_with_the_documented_id():
    _, stack = build(exists=True)
    (address,) = resources(stack, "google_artifact_registry_repository")
    assert imports(stack) == {f"google_artifact_registry_repository.{address}": f"projects/{PROJECT}/locations/{REGION}/repositories/images"}
    assert imports(build()[1]) == {}
