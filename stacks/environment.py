"""What every stack of one environment shares: provider and labels."""

from __future__ import annotations

from cdktf_cdktf_provider_google.provider import GoogleProvider
from constructs import Construct

from platform_config import Environment, Platform

MANAGED_BY = "cdktf"


def environment_labels(platform: Platform, env_name: str) -> dict[str, str]:
    return {"platform": platform.name, "environment": env_name, "managed-by": MANAGED_BY}


def google_provider(scope: Construct, environment: Environment) -> GoogleProvider:
    return GoogleProvider(scope, "google", project=environment.project_id, region=environment.region)
