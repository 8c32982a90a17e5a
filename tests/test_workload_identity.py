"""Truth table of the Workload Identity provider: which GitHub tokens get
which access, evaluated with celpy on the generated condition and mapping
(the synthesized ones equal them: tests/test_bootstrap_stack.py).

The claims are not built by the code under test: every token starts from
GitHub's documented example token and the deploy's claims come from the
application's caller as written (examples/app-repository), parsed here. What
only a real run proves is that GitHub sends these claims and Google's CEL
agrees with celpy (README, CI)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from platform_config import Platform, parse_platform
from platform_config.gcp import MAX_CONDITION_LENGTH, MAX_MAPPING_EXPRESSION_LENGTH, MAX_SUBJECT_BYTES
from platform_config.workload_identity import ACCESS_LEVELS, attribute_condition, attribute_mapping, granted_access

from .conftest import ROOT

PULL_REQUEST_REF = "refs/pull/7/merge"

# GitHub's example token of a job in a called workflow ("Using OpenID Connect
# with reusable workflows", docs.github.com/en/actions/how-tos/secure-your-work/
# security-harden-deployments/oidc-with-reusable-workflows; the claims
# repository_visibility, runner_environment and environment as in the example
# of "OpenID Connect", docs.github.com/en/actions/concepts/security/openid-connect).
# `workflow`, `ref` and the others describe the CALLER; `job_workflow_ref` the
# called workflow. `workflow_ref`/`workflow_sha` are not in the examples; their
# shape is the reference's ("OpenID Connect reference", docs.github.com/en/
# actions/reference/security/oidc: `octocat/hello-world/.github/workflows/
# my-workflow.yml@refs/heads/my_branch`).
DOCUMENTED_TOKEN: dict[str, Any] = {
    "jti": "example-id",
    "sub": "repo:octo-org/octo-repo:environment:prod",
    "environment": "prod",
    "aud": "https://github.com/octo-org",
    "ref": "refs/heads/main",
    "sha": "example-sha",
    "repository": "octo-org/octo-repo",
    "repository_owner": "octo-org",
    "actor_id": "12",
    "repository_visibility": "private",
    "repository_id": "74",
    "repository_owner_id": "65",
    "run_id": "example-run-id",
    "run_number": "10",
    "run_attempt": "2",
    "runner_environment": "github-hosted",
    "actor": "octocat",
    "workflow": "example-workflow",
    "workflow_ref": "octo-org/octo-repo/.github/workflows/example-workflow.yml@refs/heads/main",
    "workflow_sha": "example-sha",
    "head_ref": "",
    "base_ref": "",
    "event_name": "workflow_dispatch",
    "ref_type": "branch",
    "job_workflow_ref": "octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
    "iss": "https://token.actions.githubusercontent.com",
    "nbf": 1632492967,
    "exp": 1632493867,
    "iat": 1632493567,
}
# Ids GitHub's examples use for an owner and a repository (immutable subjects:
# "OpenID Connect reference", `repo:octo-org@123456/octo-repo@456789:...`).
EXAMPLE_OWNER_ID, EXAMPLE_REPOSITORY_ID = "123456", "456789"


def token(
    *,
    repository: str,
    ref: str,
    workflow_ref: str,
    job_workflow_ref: str,
    event_name: str,
    environment: str | None = None,
    repository_id: int | str | None = None,
    immutable_sub: bool = False,
) -> dict[str, Any]:
    """GitHub's example token for another job: `sub` as the reference assembles
    it (the environment when the job has one, else `pull_request` for that
    event, else the ref), in the name or the immutable id format."""
    owner, name = repository.split("/", 1)
    repository_id = str(repository_id or EXAMPLE_REPOSITORY_ID)
    subject_repository = f"{owner}@{EXAMPLE_OWNER_ID}/{name}@{repository_id}" if immutable_sub else repository
    if environment is not None:
        context = f"environment:{environment}"
    elif event_name == "pull_request":
        context = "pull_request"
    else:
        context = f"ref:{ref}"
    claims = {k: v for k, v in DOCUMENTED_TOKEN.items() if k != "environment"}
    claims.update(
        sub=f"repo:{subject_repository}:{context}",
        aud=f"https://github.com/{owner}",
        ref=ref,
        ref_type="tag" if ref.startswith("refs/tags/") else "branch",
        repository=repository,
        repository_owner=owner,
        repository_id=repository_id,
        repository_owner_id=EXAMPLE_OWNER_ID,
        event_name=event_name,
        workflow_ref=workflow_ref,
        job_workflow_ref=job_workflow_ref,
    )
    if environment is not None:
        claims["environment"] = environment
    return claims


# --- the application's caller, as written ------------------------------------------

CALLER_ROOT = ROOT / "examples" / "app-repository"
CALLER_FILE = CALLER_ROOT / ".github" / "workflows" / "deploy.yml"


@dataclass(frozen=True)
class Caller:
    path: str  # the caller's file in the application repository
    job_workflow_ref: str  # what GitHub sends for the called workflow, from the `uses:` line
    triggers: frozenset[str]


def read_caller(path: Path = CALLER_FILE) -> Caller:
    """The caller's file path, its `uses: OWNER/REPO/PATH@BRANCH` line as the
    `job_workflow_ref` GitHub sends (the branch as a full ref, as in GitHub's
    example `...oidc.yml@refs/heads/main`), and its triggers."""
    workflow = yaml.safe_load(path.read_text())
    [uses] = [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    called, branch = uses.rsplit("@", 1)
    assert not branch.startswith("refs/") and len(branch) != 40, "the caller names a branch of the infrastructure repository"
    triggers = workflow.get("on", workflow.get(True))  # PyYAML reads the key `on` as True
    return Caller(str(path.relative_to(CALLER_ROOT)), f"{called}@refs/heads/{branch}", frozenset(triggers))


CALLER = read_caller()
# Every trigger a workflow of the application repository could have that
# runs on a branch or for a pull request ("Events that trigger workflows").
TRIGGERS = ("push", "workflow_dispatch", "pull_request", "pull_request_target", "schedule", "workflow_run", "issue_comment")
# The events of a plan workflow (pull-request.yml, drift.yml; checked below).
PLAN_TRIGGERS = frozenset({"pull_request", "push", "schedule", "workflow_dispatch"})
# Which CI account admits which access (checked against the synthesized
# bindings: tests/test_bootstrap_stack.py).
IDENTITIES = {"deploy": {"deployer"}, "build": {"builder", "planner"}, "plan": {"planner"}, None: set()}


def trigger_ref(event_name: str, branch: str) -> str:
    """The ref a run of the event has: a push or a dispatch its branch, a pull
    request its merge ref; pull_request_target, schedule, workflow_run and
    issue_comment run at the default branch ("Events that trigger workflows"),
    here the worst case: the deploy branch is the default branch."""
    return PULL_REQUEST_REF if event_name == "pull_request" else f"refs/heads/{branch}"


@dataclass(frozen=True)
class Row:
    case: str
    claims: dict[str, Any]
    expected: str | None


def truth_table(platform: Platform, env_name: str) -> list[Row]:
    github = platform.github
    environment = platform.environments[env_name]
    app, infra = github.app_repository, github.infra_repository
    branch = environment.deploy_branch
    deploy_branch = f"refs/heads/{branch}"
    ours = CALLER.job_workflow_ref
    own_caller = f"{app}/{CALLER.path}@{deploy_branch}"

    def app_token(**changes) -> dict[str, Any]:
        """The application's caller on the deploy branch, pushed, calling our deploy workflow."""
        claims = {
            "repository": app,
            "repository_id": github.app_repository_id,
            "ref": deploy_branch,
            "workflow_ref": own_caller,
            "job_workflow_ref": ours,
            "event_name": "push",
        }
        return token(**{**claims, **changes})

    def infra_token(workflow: str, **changes) -> dict[str, Any]:
        ref = changes.pop("ref", github.infra_ref)
        own = f"{infra}/{workflow}@{ref}"
        claims = {"repository": infra, "repository_id": github.infra_repository_id, "ref": ref, "workflow_ref": own, "job_workflow_ref": own}
        return token(**{**{"event_name": "push"}, **claims, **changes})

    rows = [
        Row("deploy: deploy branch, its environment, our deploy.yml", app_token(environment=env_name), "deploy"),
        Row("deploy: immutable sub format", app_token(environment=env_name, immutable_sub=True), "deploy"),
        Row("build: deploy branch, no environment", app_token(), "build"),
        Row("build: immutable sub format", app_token(immutable_sub=True), "build"),
    ]
    # Each trigger of the application repository, the caller's own file or
    # another workflow at the deploy branch, with and without the environment,
    # in both subject formats: only the caller's own triggers deploy and build.
    other_caller = f"{app}/.github/workflows/release.yml@{deploy_branch}"
    for event_name in TRIGGERS:
        for caller_name, workflow_ref in (("the caller", own_caller), ("another workflow", other_caller)):
            for job_environment in (env_name, None):
                for immutable_sub in (False, True):
                    admitted = caller_name == "the caller" and event_name in CALLER.triggers
                    expected = ("deploy" if job_environment else "build") if admitted else None
                    case = f"{event_name}: {caller_name}, {'environment' if job_environment else 'no environment'}{', immutable sub' if immutable_sub else ''}"
                    claims = app_token(
                        event_name=event_name,
                        ref=trigger_ref(event_name, branch),
                        workflow_ref=workflow_ref.replace(deploy_branch, trigger_ref(event_name, branch)),
                        environment=job_environment,
                        immutable_sub=immutable_sub,
                    )
                    rows.append(Row(case, claims, expected))
    for workflow in github.plan_workflows:
        for event_name in TRIGGERS:
            for job_environment in (None, env_name):
                ref = PULL_REQUEST_REF if event_name == "pull_request" else github.infra_ref
                expected = "plan" if event_name in PLAN_TRIGGERS else None
                case = f"plan {workflow}: {event_name}{', environment' if job_environment else ''}"
                rows.append(Row(case, infra_token(workflow, ref=ref, event_name=event_name, environment=job_environment), expected))
        rows += [
            Row(
                f"plan: {workflow} in a pull request, immutable sub",
                infra_token(workflow, ref=PULL_REQUEST_REF, event_name="pull_request", immutable_sub=True),
                "plan",
            ),
            Row(f"denied: {workflow} at a feature branch", infra_token(workflow, ref="refs/heads/feature"), None),
            Row(
                f"denied: app repository's {workflow}",
                token(
                    repository=app,
                    ref=deploy_branch,
                    workflow_ref=f"{app}/{workflow}@{deploy_branch}",
                    job_workflow_ref=f"{app}/{workflow}@{deploy_branch}",
                    event_name="push",
                ),
                None,
            ),
        ]
    owner, name = app.split("/")
    rows += [
        Row("denied: another workflow of the app repository, same environment", app_token(environment=env_name, job_workflow_ref=other_caller), None),
        Row("denied: another workflow of the app repository, no environment", app_token(job_workflow_ref=other_caller), None),
        Row("denied: the caller's file at another branch", app_token(environment=env_name, workflow_ref=f"{app}/{CALLER.path}@refs/heads/feature"), None),
        Row("denied: another branch, same environment", app_token(ref="refs/heads/feature", environment=env_name), None),
        Row("denied: another branch, no environment", app_token(ref="refs/heads/feature"), None),
        Row("denied: a tag", app_token(ref="refs/tags/v1.0.0", environment=env_name), None),
        Row("denied: deploy branch in an unknown environment", app_token(environment="sandbox"), None),
        Row(
            "denied: our deploy.yml at a feature branch of infra",
            app_token(environment=env_name, job_workflow_ref=ours.rsplit("@", 1)[0] + "@refs/heads/feature"),
            None,
        ),
        Row("denied: our deploy.yml at a pull request of infra", app_token(job_workflow_ref=ours.rsplit("@", 1)[0] + f"@{PULL_REQUEST_REF}"), None),
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
            other_branch = f"refs/heads/{other.deploy_branch}"
            rows.append(
                Row(
                    f"denied: {other_name}'s deploy token",
                    app_token(ref=other_branch, workflow_ref=f"{app}/{CALLER.path}@{other_branch}", environment=other_name),
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


@pytest.mark.parametrize("identity", ["deployer", "builder", "planner"])
def test_each_identity_is_reached_only_by_its_tokens(platform, env_name, identity):
    """Per CI account: every row whose token may act as it does, and no other."""
    results = evaluate(platform, env_name, truth_table(platform, env_name))
    assert any(identity in IDENTITIES[row.expected] for row, _ in results)
    wrong = [
        f"{row.case}: expected {row.expected}, got {got}" for row, got in results if (identity in IDENTITIES[got]) != (identity in IDENTITIES[row.expected])
    ]
    assert not wrong, f"{len(wrong)} of {len(results)} rows wrong for the {identity}:\n" + "\n".join(wrong)


def test_the_table_follows_the_workflows_as_written(platform):
    """The caller calls the configured deploy workflow at infra_ref from the
    configured file; every plan workflow runs on plan triggers only."""
    github = platform.github
    assert CALLER.job_workflow_ref == f"{github.infra_repository}/{github.deploy_workflow}@{github.infra_ref}"
    assert CALLER.path == github.app_deploy_workflow
    assert CALLER.triggers == {"push", "workflow_dispatch"}
    for workflow in github.plan_workflows:
        text = yaml.safe_load((ROOT / workflow).read_text())
        assert set(text.get("on", text.get(True))) <= PLAN_TRIGGERS, workflow


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
        old_id = row.claims["repository_id"]
        new_id = str(int(old_id) + 1)
        stale = {**row.claims, "repository_id": new_id, "sub": row.claims["sub"].replace(f"@{old_id}:", f"@{new_id}:")}
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
    claims = token(
        repository=f"{'o' * 39}/{'r' * 100}",
        ref="refs/heads/main",
        workflow_ref=f"{'o' * 39}/{'r' * 100}/{CALLER.path}@refs/heads/main",
        job_workflow_ref=CALLER.job_workflow_ref,
        event_name="push",
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
    workflows = [CALLER.job_workflow_ref, *(f"{github.infra_repository}/{w}@{github.infra_ref}" for w in github.plan_workflows)]
    for env_name, env in platform.environments.items():
        branch = f"refs/heads/{env.deploy_branch}"
        for job_workflow_ref in workflows:
            claims = token(
                repository=repository,
                ref=branch,
                workflow_ref=f"{repository}/{CALLER.path}@{branch}",
                job_workflow_ref=job_workflow_ref,
                event_name="push",
                environment=environment,
                immutable_sub=immutable_sub,
            )
            assert granted_access_of(platform, env_name, claims) is None, claims
