"""Bad configuration fails before any JSON is written, one line per problem
naming the file, the field path and the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from platform_config import ConfigError, load_platform, parse_platform

from .config_problems import SOURCE, only, problems, service
from .conftest import ROOT, TEST_ONLY_BUCKET


def test_default_configuration_is_valid(raw_config):
    platform = parse_platform(raw_config)
    assert list(platform.environments) == list(raw_config["environments"])


def test_unknown_key(config_copy):
    config_copy["environments"]["production"]["projct_id"] = "mindmirror-prod"
    only(problems(config_copy), "environments.production.projct_id", "unknown key", "remove it")


def test_missing_field(config_copy):
    del config_copy["environments"]["production"]["region"]
    only(problems(config_copy), "environments.production.region", "missing", "add it")


@pytest.mark.parametrize("project_id", ["Mindmirror_Prod", "mm", "1mindmirror", "mindmirror-"])
def test_bad_project_id(config_copy, project_id):
    config_copy["environments"]["production"]["project_id"] = project_id
    only(problems(config_copy), "environments.production.project_id", repr(project_id), "6-30 lowercase")


def test_an_unquoted_project_number_is_its_digits(config_copy):
    """YAML reads `project_number: 123456789012` as a number."""
    config_copy["environments"]["production"]["project_number"] = 123456789012
    text = yaml.safe_dump(config_copy)
    assert "project_number: 123456789012\n" in text  # unquoted in the file
    loaded = yaml.safe_load(text)
    assert loaded["environments"]["production"]["project_number"] == 123456789012
    assert parse_platform(loaded).environments["production"].project_number == "123456789012"
    for not_a_number in (-5, True, 1.5):
        config_copy["environments"]["production"]["project_number"] = not_a_number
        only(problems(config_copy), "environments.production.project_number")


def test_unknown_region(config_copy):
    config_copy["environments"]["staging"]["region"] = "mars-north9"
    only(problems(config_copy), "environments.staging.region", "'mars-north9' is not a Google Cloud region", "us-east4")


def test_unknown_state_bucket_location(config_copy):
    config_copy["environments"]["staging"]["state_bucket_location"] = "MOON"
    only(problems(config_copy), "environments.staging.state_bucket_location", "'MOON' is not a bucket location", "US, EU, ASIA")


def test_duplicate_service_names(config_copy):
    duplicate = dict(service(config_copy, "meals-service"), url_name="MEALS2_SERVICE_URL")
    config_copy["services"].append(duplicate)
    only(problems(config_copy), "services[meals-service].name", "duplicate service name", "unique")


@pytest.mark.parametrize("port", [0, 70000])
def test_port_out_of_range(config_copy, port):
    service(config_copy, "habits-service")["port"] = port
    only(problems(config_copy), "services[habits-service].port", str(port), "fix the value")


def test_service_reading_undeclared_secret(config_copy):
    service(config_copy, "meals-service")["secrets"]["STRIPE_KEY"] = "STRIPE_KEY"
    only(
        problems(config_copy),
        "services[meals-service].secrets.STRIPE_KEY",
        "'STRIPE_KEY', which is not declared",
        "add it to operator_secrets",
    )


def test_call_to_unknown_service(config_copy):
    service(config_copy, "users-service")["calls"].append("billing-service")
    only(problems(config_copy), "services[users-service].calls", "unknown service 'billing-service'", "use one of")


# --- GitHub topology, CI identities, Workload Identity ---------------------------


def test_hand_written_workload_identity_condition_is_refused(config_copy):
    """The condition is generated from github:, so an old configuration's
    free-text condition is an error rather than silently ignored."""
    config_copy["environments"]["production"]["workload_identity"]["attribute_condition"] = "true"
    only(problems(config_copy), "environments.production.workload_identity.attribute_condition", "unknown key")


def test_old_single_repository_key_is_refused(config_copy):
    config_copy["github"] = {"repository": "Peleke/MindMirror"}
    lines = problems(config_copy)
    only(lines, "github.repository", "unknown key")
    only(lines, "github.app_repository", "missing")


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("app_repository", "Peleke", "OWNER/REPOSITORY"),
        ("infra_repository", "Peleke/mindmirror infra", "OWNER/REPOSITORY"),
        ("deploy_workflow", "deploy.yml", ".github/workflows/deploy.yml"),
        ("infra_ref", "main", "refs/heads/main"),
        ("app_repository_id", 0, "greater than or equal to 1"),
    ],
)
def test_bad_github_topology(config_copy, field, value, fix):
    config_copy["github"][field] = value
    only(problems(config_copy), f"github.{field}", fix)


def test_bad_plan_workflow_path(config_copy):
    workflows = config_copy["github"]["plan_workflows"]
    workflows.append("../drift.yml")
    only(problems(config_copy), f"github.plan_workflows[{len(workflows) - 1}]", ".github/workflows/")


def test_infra_repository_must_not_be_the_app_repository(config_copy):
    config_copy["github"]["infra_repository"] = config_copy["github"]["app_repository"].lower()
    only(problems(config_copy), "github.infra_repository", "is the application repository")


@pytest.mark.parametrize("field", ["planner_account_id", "builder_account_id"])
def test_ci_account_id_over_30_characters(config_copy, field):
    config_copy["environments"]["production"][field] = "github-actions-planner-production"
    only(problems(config_copy), f"environments.production.{field}", "6-30 lowercase")


def test_ci_identities_need_their_own_accounts(config_copy):
    staging = config_copy["environments"]["staging"]
    staging["builder_account_id"] = staging["deployer_account_id"]
    only(problems(config_copy), "environments.staging.builder_account_id", "is also the deployer_account_id")


def test_environments_may_not_share_a_project(config_copy):
    environments = config_copy["environments"]
    environments["production"]["project_id"] = environments["staging"]["project_id"]
    only(problems(config_copy), "environments.production.project_id", "also the project of environment 'staging'", "own project")


def test_generated_condition_over_googles_limit_is_refused(config_copy):
    config_copy["github"]["plan_workflows"] = [f".github/workflows/plan-{n:03}-of-many-plans.yml" for n in range(40)]
    lines = problems(config_copy)
    for env_name in config_copy["environments"]:
        assert any(f"condition of environment {env_name!r} would be" in line and "over Google's 4096" in line for line in lines), lines
    assert all(line.startswith(f"{SOURCE}: github: ") for line in lines), lines


def test_max_instances_below_min_instances(config_copy):
    service(config_copy, "practices-service")["min_instances"] = 20
    only(problems(config_copy), "services[practices-service].max_instances", "10 is below min_instances 20")


@pytest.mark.parametrize("bucket", ["MindMirror_State!", "ab", "google-state", "goog-state", "-state-"])
def test_invalid_state_bucket_name(config_copy, bucket):
    config_copy["environments"]["production"]["state_bucket"] = bucket
    only(problems(config_copy), "environments.production.state_bucket", repr(bucket), "3-63 lowercase")


def test_invalid_data_bucket_name_after_substitution(config_copy, platform):
    config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": "Test-Only-{project}-{env}"}
    lines = problems(config_copy)
    for env_name, environment in platform.environments.items():
        rendered = f"'Test-Only-{environment.project_id}-{env_name}'"
        only([line for line in lines if f"environment {env_name!r}" in line], f"data_buckets.{TEST_ONLY_BUCKET}.name", rendered, "3-63 lowercase")


def test_deployer_may_not_be_owner(config_copy):
    config_copy["deployer_project_roles"].append("roles/owner")
    only(problems(config_copy), "deployer_project_roles", "roles/owner", "specific roles")


def test_credential_as_plain_env_value_is_refused(config_copy):
    service(config_copy, "meals-service")["env"]["OPENAI_API_KEY"] = "sk-live-123"
    only(problems(config_copy), "services[meals-service].env.OPENAI_API_KEY", "credential", "secrets:")


def test_unknown_placeholder_names_the_environment(config_copy):
    service(config_copy, "meals-service")["env"]["REGION_NAME"] = "{zone}"
    lines = problems(config_copy)
    assert len([line for line in lines if "services[meals-service].env.REGION_NAME" in line]) == len(config_copy["environments"])
    assert any("environments.staging.vars" in line for line in lines)


def test_runtime_account_id_too_long(config_copy):
    service(config_copy, "gateway")["name"] = "graphql-gateway-service"
    lines = [line for line in problems(config_copy) if "production" in line]
    only(lines, "services[graphql-gateway-service].name", "'graphql-gateway-service-production'", "longer than 30", "shorten")


def test_every_problem_is_reported_at_once(config_copy):
    config_copy["environments"]["staging"]["region"] = "mars-north9"
    config_copy["environments"]["production"]["project_id"] = "BAD"
    assert len(problems(config_copy)) == 2


def test_duplicate_yaml_keys_are_refused(tmp_path):
    text = re.sub(r"^name: .*\n", lambda first: first.group() + "name: other\n", (ROOT / "config" / "platform.yaml").read_text(), count=1, flags=re.M)
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_platform(path)
    line = text.splitlines().index("name: other") + 1
    assert caught.value.problems == [f"{path}: line {line}, column 1: invalid YAML: duplicate key 'name'; keep only one"]


def test_bad_configuration_exits_non_zero_and_writes_nothing(tmp_path, config_copy):
    config_copy["environments"]["staging"]["region"] = "mars-north9"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config_copy))
    outdir = tmp_path / "out"
    env = {**os.environ, "PLATFORM_CONFIG": str(path), "CDKTF_OUTDIR": str(outdir)}
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: {path}: environments.staging.region: 'mars-north9' is not a Google Cloud region; use one of e.g. us-east4, us-central1, europe-west1 (see `gcloud run regions list`)"
    )
    assert not Path(outdir).exists()
