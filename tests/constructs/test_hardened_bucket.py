from constructs_lib.hardened_bucket import SECONDS_PER_DAY, HardenedBucket
from platform_config.model import BucketRetentionPolicy

from ..tfjson import only, resources
from .bare_stack import MEMBER, PROJECT, bare_stack, imports, synth

RETENTION = BucketRetentionPolicy(noncurrent_versions_kept=4, noncurrent_days_kept=21, soft_delete_retention_days=9)


def build(**overrides) -> dict:
    stack = bare_stack()
    kwargs = dict(project=PROJECT, name="state", location="europe-west1", retention=RETENTION, labels={"purpose": "test"})
    bucket = HardenedBucket(stack, "bucket", **{**kwargs, **overrides})
    bucket.grant("reader", role="roles/storage.objectViewer", member=MEMBER)
    return synth(stack)


def test_bucket_is_private_versioned_uniform_and_kept():
    bucket = only(build(), "google_storage_bucket")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["force_destroy"] is False
    assert bucket["lifecycle"]["prevent_destroy"] is True
    assert bucket["location"] == "EUROPE-WEST1"


def test_retention_bounds_noncurrent_versions_and_soft_delete():
    bucket = only(build(), "google_storage_bucket")
    conditions = [rule["condition"] for rule in bucket["lifecycle_rule"] if rule["action"]["type"] == "Delete"]
    assert {"num_newer_versions": RETENTION.noncurrent_versions_kept, "with_state": "ARCHIVED"} in conditions
    assert {"days_since_noncurrent_time": RETENTION.noncurrent_days_kept, "with_state": "ARCHIVED"} in conditions
    assert bucket["soft_delete_policy"]["retention_duration_seconds"] == RETENTION.soft_delete_retention_days * SECONDS_PER_DAY


def test_grant_is_on_the_bucket_only():
    stack = build()
    grant = only(stack, "google_storage_bucket_iam_member")
    assert grant["member"] == MEMBER and grant["role"] == "roles/storage.objectViewer"
    assert grant["bucket"].startswith("${google_storage_bucket.")
    assert not resources(stack, "google_project_iam_member")


def test_adoption_imports_with_the_documented_id():
    stack = build(exists=True)
    (address,) = resources(stack, "google_storage_bucket")
    assert imports(stack) == {f"google_storage_bucket.{address}": f"{PROJECT}/state"}
    assert imports(build()) == {}
