"""Truth table of the Workload Identity provider: which GitHub tokens get
which access, evaluated with celpy on the generated condition and mapping
(the synthesized ones equal them: tests/test_bootstrap_stack.py).

Rows are built from the configuration with GitHub's documented claims; what
only a real run proves is that GitHub sends these claims and Google's CEL
agrees with celpy (README, CI)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import celpy
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from platform_config import Platform, parse_platform
from platform_config.gcp import MAX_CONDITION_LENGTH, MAX_MAPPING_EXPRESSION_LENGTH, MAX_SUBJECT_BYTES
from platform_config.workload_identity import (
    ACCESS_LEVELS,
    attribute_condition,
    attribute_mapping,
    deploy_workflow_ref,
    github_token_claims,
    granted_access,
)

PULL_REQUEST_REF = "refs/pull/7/merge"


@dataclass(frozen=True)
class Row:
    case: str
    claims: dict[str, Any]
    expected: str | None


def truth_table(platform: Platform, env_name: str) -> list[Row]:
    github = platform.github
    environment = platform.environments[env_name]
    app, infra = github.app_repository, github.infra_repository
    deploy_branch = f"refs/heads/{environment.deploy_branch}"
    ours = deploy_workflow_ref(github)

    def app_token(**changes) -> dict[str, Any]:
        """The application repository's deploy branch calling our deploy workflow."""
        claims = {"repository": app, "repository_id": github.app_repository_id, "ref": deploy_branch, "job_workflow_ref": ours}
        return github_token_claims(**{**claims, **changes})

    def infra_token(workflow: str, **changes) -> dict[str, Any]:
        ref = changes.pop("ref", github.infra_ref)
        claims = {"repository": infra, "repository_id": github.infra_repository_id, "ref": ref, "job_workflow_ref": f"{infra}/{workflow}@{ref}"}
        return github_token_claims(**{**claims, **changes})

    rows = [
        Row("deploy: deploy branch, its environment, our deploy.yml", app_token(environment=env_name), "deploy"),
        Row("deploy: immutable sub format", app_token(environment=env_name, immutable_sub=True), "deploy"),
        Row("deploy: caller dispatched by hand", app_token(environment=env_name, event_name="workflow_dispatch"), "deploy"),
        Row("build: deploy branch, no environment", app_token(), "build"),
        Row("build: immutable sub format", app_token(immutable_sub=True), "build"),
        # A job of the deploy caller without an environment carries the build
        # job's claims: one token, one access (the deployer plans in its jobs).
        Row("deploy caller's plan job without environment", app_token(), "build"),
    ]
    for workflow in github.plan_workflows:
        rows += [
            Row(f"plan: {workflow} at infra_ref (schedule)", infra_token(workflow, event_name="schedule"), "plan"),
            Row(f"plan: {workflow} at infra_ref (push)", infra_token(workflow), "plan"),
            Row(f"plan: {workflow} in a pull request", infra_token(workflow, ref=PULL_REQUEST_REF, event_name="pull_request"), "plan"),
            Row(
                f"plan: {workflow} in a pull request, immutable sub",
                infra_token(workflow, ref=PULL_REQUEST_REF, event_name="pull_request", immutable_sub=True),
                "plan",
            ),
            Row(f"denied: {workflow} at a feature branch", infra_token(workflow, ref="refs/heads/feature"), None),
            Row(
                f"denied: {workflow} in a pull_request_target run",
                infra_token(workflow, ref=PULL_REQUEST_REF, event_name="pull_request_target"),
                None,
            ),
            Row(
                f"denied: app repository's {workflow}",
                github_token_claims(repository=app, ref=deploy_branch, job_workflow_ref=f"{app}/{workflow}@{deploy_branch}"),
                None,
            ),
        ]
    owner, name = app.split("/")
    other_workflow = f"{app}/.github/workflows/release.yml@{deploy_branch}"
    rows += [
        Row("denied: another workflow of the app repository, same environment", app_token(environment=env_name, job_workflow_ref=other_workflow), None),
        Row("denied: another workflow of the app repository, no environment", app_token(job_workflow_ref=other_workflow), None),
        Row(
            "denied: pull request of the app repository calling our deploy.yml",
            app_token(ref=PULL_REQUEST_REF, event_name="pull_request"),
            None,
        ),
        Row(
            "denied: pull request of the app repository in the environment",
            app_token(ref=PULL_REQUEST_REF, event_name="pull_request", environment=env_name),
            None,
        ),
        Row("denied: another branch, same environment", app_token(ref="refs/heads/feature", environment=env_name), None),
        Row("denied: another branch, no environment", app_token(ref="refs/heads/feature"), None),
        Row("denied: a tag", app_token(ref="refs/tags/v1.0.0", environment=env_name), None),
        Row("denied: deploy branch in an unknown environment", app_token(environment="sandbox"), None),
        Row(
            "denied: our deploy.yml at a feature branch of infra",
            app_token(environment=env_name, job_workflow_ref=f"{infra}/{github.deploy_workflow}@refs/heads/feature"),
            None,
        ),
        Row("denied: our deploy.yml at a pull request of infra", app_token(job_workflow_ref=f"{infra}/{github.deploy_workflow}@{PULL_REQUEST_REF}"), None),
        Row("denied: another repository calling our deploy.yml", app_token(repository="evil/tools", repository_id=None, environment=env_name), None),
        Row("denied: a fork calling our deploy.yml", app_token(repository=f"forker/{name}", repository_id=None, environment=env_name), None),
        Row("denied: a fork calling our deploy.yml, no environment", app_token(repository=f"forker/{name}", repository_id=None), None),
        Row(f"denied: {app}2 (the app's name as a prefix)", app_token(repository=f"{app}2", repository_id=None, environment=env_name), None),
        Row(f"denied: {app}2, immutable sub", app_token(repository=f"{app}2", repository_id=None, environment=env_name, immutable_sub=True), None),
        Row(f"denied: {app}2, no environment", app_token(repository=f"{app}2", repository_id=None), None),
        Row(f"denied: {app}-fork, no environment", app_token(repository=f"{app}-fork", repository_id=None), None),
        Row("denied: another owner of the same name", app_token(repository=f"{owner}x/{name}", repository_id=None, environment=env_name), None),
        Row(
            "denied: infra's deploy.yml dispatched by hand",
            infra_token(github.deploy_workflow, event_name="workflow_dispatch", environment=env_name),
            None,
        ),
        Row("denied: infra's deploy.yml, no environment", infra_token(github.deploy_workflow, event_name="workflow_dispatch"), None),
        Row(
            "denied: sub of the app, claims of another repository",
            {**app_token(repository="evil/tools", repository_id=None, environment=env_name), "sub": f"repo:{app}:environment:{env_name}"},
            None,
        ),
        Row("denied: no claims at all", {}, None),
    ]
    for other_name, other in platform.environments.items():
        if other_name != env_name:
            rows.append(
                Row(
                    f"denied: {other_name}'s deploy token",
                    app_token(ref=f"refs/heads/{other.deploy_branch}", environment=other_name),
                    None,
                )
            )
    return rows


def evaluate(platform: Platform, env_name: str, rows: list[Row]) -> list[tuple[Row, str | None]]:
    return [(row, granted_access_of(platform, env_name, row.claims)) for row in rows]


def granted_access_of(platform: Platform, env_name: str, claims: dict[str, Any]) -> str | None:
    return granted_access(attribute_condition(platform, env_name), attribute_mapping(platform, env_name), claims)


def assert_table(results: list[tuple[Row, str | None]], allowed=lambda row: {row.expected}) -> None:
    """Fails listing every row (claims -> expected -> got), wrong ones marked."""
    wrong = [row.case for row, got in results if got not in allowed(row)]
    if wrong:
        lines = [
            f"{'   ' if got in allowed(row) else 'BAD'} {row.case}: expected {' or '.join(map(str, allowed(row)))}, got {got}\n      {row.claims}"
            for row, got in results
        ]
        pytest.fail(f"{len(wrong)} of {len(results)} rows wrong: {wrong}\n" + "\n".join(lines))


def test_truth_table(platform, env_name):
    rows = truth_table(platform, env_name)
    assert {row.expected for row in rows} >= {*ACCESS_LEVELS, None}
    assert_table(evaluate(platform, env_name, rows))


@pytest.fixture(scope="module")
def platform_with_ids(raw_config) -> Platform:
    config = copy.deepcopy(raw_config)
    config["github"].update(app_repository_id=118_000_001, infra_repository_id=118_000_002)
    return parse_platform(config)


def test_truth_table_with_repository_ids(platform_with_ids, env_name):
    """With ids configured the same rows hold, and a repository re-created
    under the same name (new id) is refused."""
    platform = platform_with_ids
    github = platform.github
    rows = truth_table(platform, env_name)
    for row in [r for r in rows if r.expected]:
        repository_id = int(row.claims["repository_id"]) + 1
        stale = github_token_claims(
            repository=row.claims["repository"],
            ref=row.claims["ref"],
            job_workflow_ref=row.claims["job_workflow_ref"],
            event_name=row.claims["event_name"],
            environment=row.claims.get("environment"),
            repository_id=repository_id,
            immutable_sub=row.claims["sub"].startswith(f"repo:{row.claims['repository_owner']}@"),
        )
        rows.append(Row(f"denied: re-created repository: {row.case}", stale, None))
    assert any(row.claims.get("repository_id") == str(github.app_repository_id) and row.expected for row in rows)
    assert_table(evaluate(platform, env_name, rows))


def test_a_missing_claim_never_grants_more(platform, env_name):
    """Dropping any claim of an admitted token denies it or keeps its access
    (without `environment` a deploy job is a build job); celpy's missing-key
    errors deny, as Google's STS does, instead of crashing."""
    # One admitted token per access and event kind (celpy is slow).
    admitted = {(row.expected, row.claims["event_name"]): row for row in truth_table(platform, env_name) if row.expected}
    rows = [
        Row(f"{row.case} without {claim}", {k: v for k, v in row.claims.items() if k != claim}, row.expected)
        for row in admitted.values()
        for claim in row.claims
    ]
    assert rows

    def allowed(row: Row) -> set[str | None]:
        return {None, row.expected} | ({"build"} if row.case.endswith(" without environment") else set())

    results = evaluate(platform, env_name, rows)
    assert_table(results, allowed)
    # Pinned claims do matter: without them the token is refused.
    for pinned in ("repository", "ref", "job_workflow_ref"):
        assert {got for row, got in results if row.case.endswith(f" without {pinned}")} == {None}, pinned


def test_generated_expressions_fit_googles_limits(platform):
    for env_name in platform.environments:
        condition = attribute_condition(platform, env_name)
        assert len(condition) < MAX_CONDITION_LENGTH, env_name
        mapping = attribute_mapping(platform, env_name)
        assert set(mapping) == {"google.subject", "attribute.repository", "attribute.ref", "attribute.access"}
        assert all(len(expression) <= MAX_MAPPING_EXPRESSION_LENGTH for expression in mapping.values()), env_name
        # checkov's CKV_GCP_125: a repository-pinned `assertion.sub == 'repo:OWNER/REPO:...'`.
        assert f"assertion.sub == 'repo:{platform.github.app_repository}:environment:{env_name}'" in condition


def test_subject_stays_within_googles_limit_for_long_names(platform):
    """google.subject is built from numeric ids, so the longest names GitHub
    allows (39-character owner, 100-character repository, 255-character
    environment) still give a short subject; GitHub's `sub` would not."""
    env_name = next(iter(platform.environments))
    claims = github_token_claims(
        repository=f"{'o' * 39}/{'r' * 100}",
        ref="refs/heads/main",
        job_workflow_ref=deploy_workflow_ref(platform.github),
        environment="e" * 255,
        repository_id=9_223_372_036_854_775_807,
    )
    assert len(claims["sub"].encode()) > MAX_SUBJECT_BYTES
    cel = celpy.Environment()
    program = cel.program(cel.compile(attribute_mapping(platform, env_name)["google.subject"]))
    subject = program.evaluate({"assertion": celpy.json_to_cel(claims)})
    assert len(str(subject).encode()) <= MAX_SUBJECT_BYTES
    assert str(subject) == f"{claims['repository_id']}/{claims['run_id']}/{claims['run_attempt']}"


def test_invalid_cel_is_an_error_not_a_denial(platform):
    with pytest.raises(ValueError, match="not valid CEL"):
        granted_access("assertion.repository ==", attribute_mapping(platform, next(iter(platform.environments))), {})


REPOSITORY_NAMES = st.from_regex(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9_.-]{1,100}", fullmatch=True)


@settings(max_examples=40, deadline=None, database=None)
@given(repository=REPOSITORY_NAMES, immutable_sub=st.booleans(), data=st.data())
def test_no_other_repository_gets_access(platform, repository, immutable_sub, data):
    """Any other repository, with every other claim of an admitted token
    (deploy branch, environment, our deploy.yml or a plan workflow), is refused."""
    github = platform.github
    assume(repository not in (github.app_repository, github.infra_repository))
    environment = data.draw(st.sampled_from([None, *platform.environments]))
    workflows = [deploy_workflow_ref(github), *(f"{github.infra_repository}/{w}@{github.infra_ref}" for w in github.plan_workflows)]
    for env_name, env in platform.environments.items():
        for job_workflow_ref in workflows:
            claims = github_token_claims(
                repository=repository,
                ref=f"refs/heads/{env.deploy_branch}",
                job_workflow_ref=job_workflow_ref,
                environment=environment,
                immutable_sub=immutable_sub,
            )
            assert granted_access_of(platform, env_name, claims) is None, claims
