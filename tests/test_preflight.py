"""`make preflight`: the state backend checked against a real GCS API."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from google.api_core import exceptions

from google.auth.exceptions import DefaultCredentialsError

from tools import preflight as preflight_tool
from tools.preflight import Target, check

from .conftest import ROOT

PRODUCTION = Target("production", "mindmirror-prod", "mindmirror-tofu-state", "app/production")


def preflight(emulator, env_name: str = "production") -> subprocess.CompletedProcess:
    env = {**os.environ, "STORAGE_EMULATOR_HOST": emulator.url}
    return subprocess.run(
        [sys.executable, "-m", "tools.preflight", env_name], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def make_bucket(emulator, versioning: bool):
    bucket = emulator.client(PRODUCTION.project).create_bucket(PRODUCTION.bucket)
    bucket.versioning_enabled = versioning
    bucket.patch()
    return bucket


def test_missing_bucket(empty_gcs):
    result = preflight(empty_gcs)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "preflight: state bucket gs://mindmirror-tofu-state does not exist in mindmirror-prod: "
        "apply bootstrap-production first (README, Deploy from scratch)"
    )


def test_bucket_without_versioning(empty_gcs):
    make_bucket(empty_gcs, versioning=False)
    result = preflight(empty_gcs)
    assert result.returncode == 1
    assert "gs://mindmirror-tofu-state does not keep versions" in result.stderr
    assert "--versioning" in result.stderr


def test_good_bucket(empty_gcs):
    bucket = make_bucket(empty_gcs, versioning=True)
    result = preflight(empty_gcs)
    assert result.returncode == 0, result.stderr
    assert "gs://mindmirror-tofu-state/app/production/ is ready for tofu init" in result.stdout
    # The probe object is deleted again (a noncurrent version may remain).
    assert not list(empty_gcs.client(PRODUCTION.project).list_blobs(bucket.name))


def test_unknown_environment_is_a_usage_error(gcs_emulator):
    result = preflight(gcs_emulator, "qa")
    assert result.returncode == 2
    assert "usage: make preflight ENV=<staging|production>" in result.stderr


class DeniedClient:
    """The emulator has no IAM; this stands in for GCS answering 403 where the
    caller lacks a permission, and 404 where the bucket is missing."""

    def __init__(self, bucket_exists: bool, can_list: bool):
        self.bucket_exists, self.can_list = bucket_exists, can_list

    def get_bucket(self, name):
        raise exceptions.Forbidden("caller does not have storage.buckets.get")

    def list_blobs(self, name, **_):
        if not self.bucket_exists:
            raise exceptions.NotFound("bucket not found")
        if not self.can_list:
            raise exceptions.Forbidden("caller does not have storage.objects.list")
        return iter(())


@pytest.mark.parametrize(
    "bucket_exists, can_list, expected",
    [
        (False, False, "state bucket gs://mindmirror-tofu-state does not exist in mindmirror-prod: apply bootstrap-production first"),
        (True, False, "permission denied on state bucket gs://mindmirror-tofu-state (it may exist): authenticate as the deployer"),
        (True, True, "cannot read the settings of state bucket gs://mindmirror-tofu-state (storage.buckets.get denied)"),
    ],
)
def test_a_403_tells_missing_bucket_from_missing_permission(bucket_exists, can_list, expected):
    [problem] = check(DeniedClient(bucket_exists, can_list), PRODUCTION)
    assert problem.startswith(expected)


def test_missing_credentials_are_one_line(monkeypatch, capsys):
    def no_credentials(project):
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(preflight_tool.storage, "Client", no_credentials)
    assert preflight_tool.main(["production"]) == 1
    assert capsys.readouterr().err.strip() == (
        "preflight: no Google credentials: run `gcloud auth application-default login` "
        "(in CI, google-github-actions/auth runs first)"
    )
