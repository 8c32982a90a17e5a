"""One synthesis of the default configuration per test session: importing the
provider bindings is the expensive part, so every test reads this output."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from platform_config import DEFAULT_CONFIG, Platform, load_platform, parse_platform
from synth.provider_bindings import import_only_used_submodules
from tests.fake_github import FakeGitHub, empty_state

ROOT = Path(__file__).resolve().parent.parent
# A data bucket of test configurations, named so no platform has it.
TEST_ONLY_BUCKET = "test_only_bucket"
# A service added by test configurations, named so no platform has it.
TEST_SERVICE = {
    "name": "test-svc",
    "image": "test_svc",
    "port": 8080,
    "url_name": "TEST_SVC_URL",
    "build": {"dockerfile": "test_svc/Dockerfile", "context": "."},
}

# As main.py does; tests/test_synth_shortcuts.py proves the output is the same without it.
import_only_used_submodules()


def synthesize(platform: Platform, outdir: Path) -> dict[str, dict]:
    """Synthesizes every stack into `outdir`; returns stack name -> JSON."""
    from stacks import build_app

    build_app(platform, str(outdir)).synth()
    return read_stacks(outdir)


def read_stacks(outdir: Path) -> dict[str, dict]:
    return {name: json.loads(text) for name, text in stack_files(outdir).items()}


def stack_files(outdir: Path) -> dict[str, bytes]:
    """Stack name -> the exact bytes of its cdk.tf.json."""
    return {path.parent.name: path.read_bytes() for path in sorted(outdir.glob("stacks/*/cdk.tf.json"))}


# Every configured environment: adding one to the configuration needs no test edit.
ENVIRONMENTS = list(load_platform(DEFAULT_CONFIG).environments)


@pytest.fixture(params=ENVIRONMENTS)
def env_name(request) -> str:
    return request.param


@pytest.fixture
def environment(platform, env_name):
    return platform.environments[env_name]


@pytest.fixture(scope="session")
def raw_config() -> dict:
    """The default configuration as plain data; tests deep-copy it to vary it."""
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


@pytest.fixture
def config_copy(raw_config) -> dict:
    return copy.deepcopy(raw_config)


@pytest.fixture(scope="session")
def platform() -> Platform:
    return load_platform(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory, platform) -> Path:
    outdir = tmp_path_factory.mktemp("cdktf.out")
    synthesize(platform, outdir)
    return outdir


@pytest.fixture(scope="session")
def stacks(synth_dir) -> dict[str, dict]:
    return read_stacks(synth_dir)


@pytest.fixture(scope="session")
def synthesize_variant(tmp_path_factory, raw_config):
    """Synthesizes a variant of the default configuration (in this process,
    so the provider import is not paid again)."""

    def run(mutate) -> dict[str, dict]:
        config = copy.deepcopy(raw_config)
        mutate(config)
        return synthesize(parse_platform(config), tmp_path_factory.mktemp("variant"))

    return run


@pytest.fixture(scope="session")
def variant(synthesize_variant) -> dict[str, dict]:
    """One synthesis of the default platform changed by configuration alone:
    a new service (test-svc, a name no platform has), meals-service made private, production's
    bootstrap state moved into its bucket, staging's state bucket in the US
    multi-region. Each change touches stacks the others leave alone."""

    def change(config):
        config["services"].append(
            {
                **copy.deepcopy(TEST_SERVICE),
                "env": {"ENVIRONMENT": "{env}"},
                "secrets": {"DATABASE_URL": "DATABASE_URL"},
                "calls": ["meals-service", "users-service"],
            }
        )
        next(s for s in config["services"] if s["name"] == "meals-service")["public"] = False
        next(s for s in config["services"] if s["name"] == "gateway")["calls"].append("test-svc")
        config["environments"]["production"]["bootstrap_backend"] = "gcs"
        config["environments"]["staging"]["state_bucket_location"] = "US"

    return synthesize_variant(change)


@pytest.fixture(scope="session")
def choices(synthesize_variant) -> dict[str, dict]:
    """One synthesis with every per-service and adoption choice switched on
    somewhere: production adopts agent-service (and journal-service's
    account), users-service has not been applied yet, habits-service is about to be removed, the gateway is public
    without an allUsers binding, meals-service keeps its CPU, a data bucket
    is added (TEST_ONLY_BUCKET), production adopts every data bucket, kept in
    the US multi-region, and staging moves its layout-1 resources to the
    bootstrap."""

    def change(config):
        production = config["environments"]["production"]
        production["adopt_services"] = ["agent-service"]
        production["adopt_runtime_accounts"] = ["journal-service"]
        production["first_apply_services"] = ["users-service"]
        production["retiring_services"] = ["habits-service"]
        config["data_buckets"][TEST_ONLY_BUCKET] = {"name": "test-only-{project}-{env}"}
        production["adopt_buckets"] = list(config["data_buckets"])
        for bucket in config["data_buckets"].values():
            bucket["location"] = "US"
        next(s for s in config["services"] if s["name"] == "gateway")["invoker_iam_disabled"] = True
        next(s for s in config["services"] if s["name"] == "meals-service")["cpu_idle"] = False
        config["environments"]["staging"]["move_to_bootstrap"] = True

    return synthesize_variant(change)


@pytest.fixture(scope="session")
def gcs_emulator(storage_twin_server):
    """The fake-gcs-server behind the twin's Cloud Storage, without its IAM
    front (the preflight's fake of the other APIs passes storage calls on to it)."""
    return storage_twin_server.backend


@pytest.fixture
def empty_gcs(gcs_emulator):
    gcs_emulator.reset()
    return gcs_emulator


@pytest.fixture(scope="module")
def numbered_config(raw_config) -> dict:
    """The default configuration with project numbers and repository ids, which CI needs."""
    config = copy.deepcopy(raw_config)
    for index, environment in enumerate(config["environments"].values()):
        environment["project_number"] = str(123456789000 + index)
    config["github"].update(app_repository_id=118_000_001, infra_repository_id=118_000_002)
    return config


@pytest.fixture(scope="module")
def numbered(numbered_config):
    return parse_platform(numbered_config)


@pytest.fixture(scope="session")
def github_server():
    server = FakeGitHub()
    yield server
    server.shutdown()


@pytest.fixture
def fake_github(github_server, monkeypatch):
    """The stand-in of GitHub's REST API (tests/fake_github.py), empty, with
    the workflow tools pointed at it; the test sets GITHUB_REPOSITORY."""
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_example")
    monkeypatch.setenv("GITHUB_API_STANDIN_URL", github_server.url)
    github_server.state = empty_state()
    return github_server
