"""Who may act as which CI identity: the Workload Identity provider's attribute
condition and mapping, generated from the `github:` configuration, and an
evaluator of both (celpy) for tests and rehearsals.

GitHub Actions' OIDC token of a job in a called workflow (`workflow_call`)
describes the CALLER (`repository`, `ref`, `environment`, `sub`, ...), while
`job_workflow_ref` names the called workflow with its ref. The deploy
workflow lives in the infrastructure repository and is called by the
application repository; plan workflows run in the infrastructure repository.

Three kinds of access, one per token, mapped to `attribute.access`; each CI
service account admits one kind (`principalSet://.../attribute.access/<kind>`):

- deploy: the application repository's own caller (`app_deploy_workflow`,
  the `workflow_ref` claim) at the deploy branch, run by a push or by hand
  (`event_name`), calling our deploy workflow at `infra_ref`, in the GitHub
  environment named like ours (production's required reviewers gate it).
  Any other workflow of that repository on that branch (a
  `pull_request_target`, `schedule`, `workflow_run` or `issue_comment` run
  has the default branch's ref, and could call our deploy with a fork's
  `app_ref`) is refused;
- build: the same caller and events in a job without a GitHub environment
  (image builds need no approval). A job of that caller in another
  environment is refused;
- plan: our plan workflows in the infrastructure repository: at `infra_ref`
  (schedule, push, dispatch), or at any ref for pull requests (a pull request
  runs its own copy of the workflow, so pinning its ref would pin nothing;
  GitHub gives no id token to pull requests from forks, and plan access is
  read-only). The deploy caller's own plans run in its deploy jobs, as the
  deployer: a job of that caller without an environment carries exactly the
  claims of a build job, and one token maps to one kind.

Pins use `repository` (plus `repository_id` when configured), `ref`,
`environment`, `job_workflow_ref`, `workflow_ref` and `event_name`, not `sub`: GitHub's immutable subject
format (`repo:OWNER@ID/REPO@ID:...`, default for repositories created or
renamed since 2026-07-15) would break an exact `sub` match. The deploy
branch also pins `sub` (checkov's CKV_GCP_125 asks for a repository-pinned
`assertion.sub == '...'`) in both formats, so either works; a customized
subject template would need this module changed.

`google.subject` is `<repository_id>/<run_id>/<run_attempt>`: always under
Google's 127-byte limit (GitHub's `sub` is not: environment names alone may
be 255 characters), and it names the workflow run in Cloud Audit Logs.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .gcp import MAX_SUBJECT_BYTES

if TYPE_CHECKING:
    from .model import GitHub, Platform

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# The events whose runs of the application's caller may deploy and build:
# its own triggers (examples/app-repository/.github/workflows/deploy.yml).
DEPLOY_EVENTS = ("push", "workflow_dispatch")
# The events of the plan workflows (pull-request.yml, drift.yml) besides pull_request.
PLAN_EVENTS_AT_INFRA_REF = ("push", "schedule", "workflow_dispatch")
ACCESS_LEVELS = ("deploy", "build", "plan")
# What `attribute.access` holds when no kind applies; no account admits it.
NO_ACCESS = "none"


def attribute_condition(platform: Platform, env_name: str) -> str:
    """CEL over the token's claims: true for deploy, build and plan tokens of this environment."""
    deploy, build, plan = _access_rules(platform, env_name)
    return f"({deploy}) || ({build}) || ({plan})"


def attribute_mapping(platform: Platform, env_name: str) -> dict[str, str]:
    """Google attributes from the token: a bounded subject, the caller's
    repository and ref, and the kind of access (CEL ternary, first match)."""
    deploy, build, plan = _access_rules(platform, env_name)
    access = f"({deploy}) ? 'deploy' : (({build}) ? 'build' : (({plan}) ? 'plan' : '{NO_ACCESS}'))"
    return {
        "google.subject": "assertion.repository_id + '/' + assertion.run_id + '/' + assertion.run_attempt",
        "attribute.repository": "assertion.repository",
        "attribute.ref": "assertion.ref",
        "attribute.access": access,
    }


def granted_access(condition: str, mapping: Mapping[str, str], claims: Mapping[str, Any]) -> str | None:
    """The kind of access Google's STS would grant for a token with `claims`:
    None when the condition is false or fails (a missing claim), a mapping
    fails, the subject is too long, or no kind applies. A condition or
    mapping that is not valid CEL raises ValueError: Google would refuse the
    provider itself."""
    import celpy

    activation = {"assertion": celpy.json_to_cel(dict(claims))}
    try:
        admitted = _program(condition).evaluate(activation)
        if not isinstance(admitted, celpy.celtypes.BoolType) or not admitted:
            return None
        mapped = {key: _program(expression).evaluate(activation) for key, expression in mapping.items()}
    except celpy.CELEvalError:
        return None
    subject = mapped.get("google.subject")
    if not isinstance(subject, str) or len(subject.encode()) > MAX_SUBJECT_BYTES:
        return None
    access = mapped.get("attribute.access")
    return str(access) if access in ACCESS_LEVELS else None


def deploy_workflow_ref(github: GitHub) -> str:
    """`job_workflow_ref` of our deploy workflow at the trusted ref."""
    return f"{github.infra_repository}/{github.deploy_workflow}@{github.infra_ref}"


def caller_workflow_ref(github: GitHub, deploy_branch: str) -> str:
    """`workflow_ref` of the application's caller at a deploy branch."""
    return f"{github.app_repository}/{github.app_deploy_workflow}@refs/heads/{deploy_branch}"


def github_token_claims(
    *,
    repository: str,
    ref: str,
    workflow_ref: str,
    job_workflow_ref: str,
    event_name: str = "push",
    environment: str | None = None,
    repository_id: int | None = None,
    repository_owner_id: int | None = None,
    immutable_sub: bool = False,
) -> dict[str, Any]:
    """The claims of a GitHub Actions OIDC token as GitHub documents them
    (docs.github.com, "OpenID Connect reference"): `sub` from repository and
    environment, else the pull request, else the ref; every claim a string
    except the times. Ids default to stable numbers derived from the names.
    `workflow_ref` is the workflow run (the caller's, when it calls the
    workflow of `job_workflow_ref`).
    `immutable_sub` gives the `repo:OWNER@ID/REPO@ID:...` subject."""
    owner, name = repository.split("/", 1)
    repository_id = _stable_id(repository) if repository_id is None else repository_id
    repository_owner_id = _stable_id(owner) if repository_owner_id is None else repository_owner_id
    subject_repository = f"{owner}@{repository_owner_id}/{name}@{repository_id}" if immutable_sub else repository
    if environment is not None:
        context = f"environment:{environment}"
    elif event_name == "pull_request":
        context = "pull_request"
    else:
        context = f"ref:{ref}"
    pull_request = event_name == "pull_request"
    claims: dict[str, Any] = {
        "jti": f"{_stable_id(repository + ref + job_workflow_ref):x}",
        "sub": f"repo:{subject_repository}:{context}",
        "aud": f"https://github.com/{owner}",
        "ref": ref,
        "sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4",
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": str(repository_owner_id),
        "repository_id": str(repository_id),
        "repository_visibility": "private",
        "run_id": "9876543210",
        "run_number": "42",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "actor_id": "583231",
        "workflow": "deploy",
        "workflow_ref": workflow_ref,
        "workflow_sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4",
        "head_ref": "feature" if pull_request else "",
        "base_ref": "main" if pull_request else "",
        "event_name": event_name,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "ref_protected": "false",
        "job_workflow_ref": job_workflow_ref,
        "job_workflow_sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4",
        "iss": GITHUB_ISSUER,
        "nbf": 1_700_000_000,
        "exp": 1_700_000_900,
        "iat": 1_700_000_300,
    }
    if environment is not None:
        claims["environment"] = environment
        claims["environment_node_id"] = f"EN_{_stable_id(repository + environment):x}"
    return claims


# --- generation ----------------------------------------------------------------


def _access_rules(platform: Platform, env_name: str) -> tuple[str, str, str]:
    """CEL of the deploy, build and plan rules, each safe on any GitHub token
    (a missing optional claim is tested with has(), never read)."""
    github = platform.github
    environment = platform.environments[env_name]
    owner, name = github.app_repository.split("/", 1)
    caller = " && ".join(
        [
            *_repository_pins(github.app_repository, github.app_repository_id),
            f"assertion.ref == {_literal('refs/heads/' + environment.deploy_branch)}",
            f"assertion.job_workflow_ref == {_literal(deploy_workflow_ref(github))}",
            f"assertion.workflow_ref == {_literal(caller_workflow_ref(github, environment.deploy_branch))}",
            f"assertion.event_name in {_list(DEPLOY_EVENTS)}",
        ]
    )
    old_sub = _literal(f"repo:{github.app_repository}:environment:{env_name}")
    immutable_sub = (
        f"{_literal(f'repo:{owner}@')} + assertion.repository_owner_id + {_literal(f'/{name}@')}"
        f" + assertion.repository_id + {_literal(f':environment:{env_name}')}"
    )
    deploy = (
        f"{caller} && has(assertion.environment) && assertion.environment == {_literal(env_name)}"
        f" && (assertion.sub == {old_sub} || assertion.sub == {immutable_sub})"
    )
    build = f"{caller} && !has(assertion.environment)"
    plan = _plan_rule(github)
    return deploy, build, plan


def _plan_rule(github: GitHub) -> str:
    if not github.plan_workflows:
        return "false"
    at_any_ref = " || ".join(
        f"assertion.job_workflow_ref.startsWith({_literal(f'{github.infra_repository}/{workflow}@')})" for workflow in github.plan_workflows
    )
    at_infra_ref = ", ".join(_literal(f"{github.infra_repository}/{workflow}@{github.infra_ref}") for workflow in github.plan_workflows)
    pins = " && ".join(_repository_pins(github.infra_repository, github.infra_repository_id))
    at_infra_ref_by_event = f"assertion.event_name in {_list(PLAN_EVENTS_AT_INFRA_REF)} && assertion.job_workflow_ref in [{at_infra_ref}]"
    return f"{pins} && (assertion.event_name == 'pull_request' ? ({at_any_ref}) : {at_infra_ref_by_event})"


def _repository_pins(repository: str, repository_id: int | None) -> list[str]:
    pins = [f"assertion.repository == {_literal(repository)}"]
    if repository_id is not None:
        pins.append(f"assertion.repository_id == {_literal(str(repository_id))}")
    return pins


def _list(values: tuple[str, ...]) -> str:
    return f"[{', '.join(map(_literal, values))}]"


def _literal(value: str) -> str:
    """A CEL string literal: single quotes, with backslash and quote escaped."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def _stable_id(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


@functools.lru_cache(maxsize=64)
def _program(expression: str):
    import celpy

    environment = celpy.Environment()
    try:
        return environment.program(environment.compile(expression))
    except celpy.CELParseError as error:
        raise ValueError(f"not valid CEL: {expression!r}: {error}") from None
