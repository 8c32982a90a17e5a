"""The rehearsal's stand-in OIDC token follows the configuration: the caller's
workflow file (`github.app_deploy_workflow`) and the called one
(`github.deploy_workflow`), never fixed file names."""

from __future__ import annotations

import json

from platform_config import parse_platform
from platform_config.workload_identity import attribute_condition, attribute_mapping, granted_access
from rehearsal import standins
from rehearsal.harness import Scenario, token_workflow_refs, workflow_run

# Neither is the default configuration's file name.
CALLER_FILE = ".github/workflows/ship-it.yml"
CALLED_FILE = ".github/workflows/release.yml"


def test_a_callers_token_names_the_configured_workflow_files(config_copy, env_name, monkeypatch):
    github = config_copy["github"]
    github.update(app_deploy_workflow=CALLER_FILE, deploy_workflow=CALLED_FILE, app_repository_id=700000001, infra_repository_id=700000002)
    platform = parse_platform(config_copy)
    branch = platform.environments[env_name].deploy_branch
    scenario = Scenario("happy-path", environment=env_name)

    repository, workflow, ref = workflow_run(platform.github, scenario, branch)
    assert (repository, workflow, ref) == (github["app_repository"], CALLER_FILE, f"refs/heads/{branch}")

    # The apply job's token, as the auth stand-in builds it from the harness's variables.
    job = {
        "GITHUB_REPOSITORY": repository,
        "GITHUB_EVENT_NAME": "push",
        "REHEARSAL_REF": ref,
        "REHEARSAL_REPOSITORY_IDS": json.dumps({github["app_repository"]: 700000001, github["infra_repository"]: 700000002}),
        standins.ENVIRONMENT_CLAIM: env_name,
        **token_workflow_refs(platform.github, scenario, branch),
    }
    for name, value in job.items():
        monkeypatch.setenv(name, value)
    claims = standins._token_claims()

    assert claims["workflow_ref"] == f"{github['app_repository']}/{CALLER_FILE}@refs/heads/{branch}"
    assert claims["job_workflow_ref"] == f"{github['infra_repository']}/{CALLED_FILE}@{github['infra_ref']}"
    assert granted_access(attribute_condition(platform, env_name), attribute_mapping(platform, env_name), claims) == "deploy"


def test_the_drift_runs_token_names_the_drift_workflow_twice(platform):
    refs = token_workflow_refs(platform.github, Scenario("drift-reported", drift=True), "main")
    drift = f"{platform.github.infra_repository}/.github/workflows/drift.yml@{platform.github.infra_ref}"
    assert refs == {"REHEARSAL_WORKFLOW_REF": drift, "REHEARSAL_JOB_WORKFLOW_REF": drift}
