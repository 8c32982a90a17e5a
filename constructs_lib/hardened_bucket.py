"""A Cloud Storage bucket that is private, versioned and hard to lose."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_google.storage_bucket import (
    StorageBucket,
    StorageBucketLifecycleRule,
    StorageBucketLifecycleRuleAction,
    StorageBucketLifecycleRuleCondition,
    StorageBucketSoftDeletePolicy,
    StorageBucketVersioning,
)
from cdktf_cdktf_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from platform_config.model import BucketRetentionPolicy

from .adoption import adopt_if

SECONDS_PER_DAY = 86_400


class HardenedBucket(Construct):
    """Uniform access, public access prevention enforced, versioning on,
    never force-destroyed and protected from `tofu destroy`.

    Noncurrent versions beyond `noncurrent_versions_kept`, or older than
    `noncurrent_days_kept` days, are deleted, so versioning does not grow
    without bound; deleted objects stay restorable for the soft-delete period.

    Example::

        retention = BucketRetentionPolicy(noncurrent_versions_kept=5, noncurrent_days_kept=30, soft_delete_retention_days=7)
        bucket = HardenedBucket(
            stack, "state", project="my-project", name="my-project-state", location="europe-west1", retention=retention, labels={}
        )
        bucket.grant("ci-read", role="roles/storage.objectViewer", member="serviceAccount:ci@my-project.iam.gserviceaccount.com")
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        name: str,
        location: str,
        retention: BucketRetentionPolicy,
        labels: dict[str, str],
        exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.bucket = StorageBucket(
            self,
            "bucket",
            project=project,
            name=name,
            location=location.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=False,
            versioning=StorageBucketVersioning(enabled=True),
            soft_delete_policy=StorageBucketSoftDeletePolicy(retention_duration_seconds=retention.soft_delete_retention_days * SECONDS_PER_DAY),
            lifecycle_rule=[
                StorageBucketLifecycleRule(
                    action=StorageBucketLifecycleRuleAction(type="Delete"),
                    condition=StorageBucketLifecycleRuleCondition(num_newer_versions=retention.noncurrent_versions_kept, with_state="ARCHIVED"),
                ),
                StorageBucketLifecycleRule(
                    action=StorageBucketLifecycleRuleAction(type="Delete"),
                    condition=StorageBucketLifecycleRuleCondition(days_since_noncurrent_time=retention.noncurrent_days_kept, with_state="ARCHIVED"),
                ),
            ],
            labels=labels,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        adopt_if(self.bucket, exists, f"{project}/{name}")

    def grant(self, id: str, *, role: str, member: str) -> StorageBucketIamMember:
        """Grants `role` on this bucket only (never on the project)."""
        return StorageBucketIamMember(self, id, bucket=self.bucket.name, role=role, member=member)
