"""What the deploy workflow reads from the configuration matches what the
app stacks synthesize."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.ci_plan import exclude_flags, tfvars, url_build_args

from .conftest import ROOT
from .tfjson import data_sources, resources


def test_tfvars_set_every_image_tag_variable(stacks, platform, env_name):
    assert set(tfvars(platform, "v1.0.0-22403cf")) == set(stacks[f"app-{env_name}"]["variable"])
    assert set(tfvars(platform, "v1.0.0-22403cf").values()) == {"v1.0.0-22403cf"}


def test_first_apply_excludes_exactly_the_gateway(synth_dir, stacks, platform, env_name):
    stack = stacks[f"app-{env_name}"]
    flags = exclude_flags(platform, env_name, synth_dir)
    [service] = [name for name, body in resources(stack, "google_cloud_run_v2_service").items() if body["name"] == "gateway"]
    [image_check] = [name for name, body in data_sources(stack, "google_artifact_registry_docker_image").items() if body["image_name"].startswith("mesh:")]
    assert flags == sorted(
        [f"-exclude=google_cloud_run_v2_service.{service}", f"-exclude=data.google_artifact_registry_docker_image.{image_check}"]
    )


def test_gateway_build_args_carry_every_service_url(platform):
    urls = {s.url_name.lower(): f"https://{s.name}-123.us-east4.run.app" for s in platform.services if s.url_name}
    args = url_build_args(platform, urls)
    assert len(args) == 7
    assert "--build-arg=USERS_SERVICE_URL=https://users-service-123.us-east4.run.app" in args


def test_gateway_build_fails_on_a_missing_url(platform):
    urls = {s.url_name.lower(): "https://x" for s in platform.services if s.url_name and s.name != "meals-service"}
    with pytest.raises(SystemExit, match="service-urls secret lacks MEALS_SERVICE_URL"):
        url_build_args(platform, urls)


def test_urls_secret_name_is_the_one_the_app_stack_writes(stacks, env_name):
    result = subprocess.run([sys.executable, "-m", "tools.ci_plan", env_name, "urls-secret"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # The secret is the bootstrap's; the app stack writes its versions.
    secret_ids = {body["secret_id"] for body in resources(stacks[f"bootstrap-{env_name}"], "google_secret_manager_secret").values()}
    assert result.stdout.strip() == f"service-urls-{env_name}" and result.stdout.strip() in secret_ids
    versions = {body["secret"] for body in resources(stacks[f"app-{env_name}"], "google_secret_manager_secret_version").values()}
    assert any(v.endswith(f"/secrets/service-urls-{env_name}") for v in versions)
