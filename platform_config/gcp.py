"""Google Cloud's facts and limits the configuration is checked against,
each with where it comes from."""

from __future__ import annotations

from typing import Literal, get_args

# Regions that offer Cloud Run, Artifact Registry and Secret Manager
# (`gcloud run regions list`, Artifact Registry and Secret Manager locations).
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

# Cloud Storage multi-region bucket locations ("Bucket locations").
MULTI_REGIONS = frozenset({"US", "EU", "ASIA"})

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

# Workload Identity Federation's limits on a provider ("Workload Identity
# Federation", attribute conditions and mappings): the attribute condition,
# each mapping expression, and the mapped google.subject in bytes.
MAX_CONDITION_LENGTH = 4096
MAX_MAPPING_EXPRESSION_LENGTH = 2048
MAX_SUBJECT_BYTES = 127

# Cloud Run CPU limits per instance (whole CPUs; fractions need other settings).
Cpu = Literal["1", "2", "4", "8"]

# Access of a service's runtime account to a data bucket: the predefined
# Cloud Storage role of the same name.
BucketAccess = Literal["objectViewer", "objectAdmin"]
BUCKET_ACCESS_ROLES = {access: f"roles/storage.{access}" for access in get_args(BucketAccess)}
