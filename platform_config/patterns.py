"""The shapes of configuration strings: each regex once, and the annotated
string types the model uses. Every refusal names the value and the fix; the
JSON schema carries each regex (or the list of regions) for editors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import core_schema

from .echo import echo
from .gcp import GCP_REGIONS, MAX_ENV_VALUE_CHARS, MEMORY_MIB, MULTI_REGIONS, PROJECT_ID_RESTRICTED

# Plain environment variables whose names look like credentials: these must be
# Secret Manager references instead.
CREDENTIAL_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|_KEY$)")

PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SERVICE_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$")
SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# At most 255 characters: a url_name is also a Secret Manager id.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
IMAGE_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
ACCOUNT_ID = re.compile(r"^[a-z]([a-z0-9-]{4,28}[a-z0-9])$")
POOL_OR_PROVIDER_ID = re.compile(r"^[a-z0-9-]{4,32}$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{1,15}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# A path inside the application repository (goes into the CI build matrix).
RELATIVE_PATH = re.compile(r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_./-]{1,255}$")
# A branch name git accepts (`git check-ref-format --branch`), conservatively.
BRANCH_NAME = re.compile(r"^(?![-/.])(?!.*(\.\.|//|@\{|\.lock$|/\.))[A-Za-z0-9._/-]{1,255}(?<![/.])$")
# GitHub's rules: an owner of letters, digits and single hyphens, neither
# first nor last; a repository name not starting with '-', without '..' and
# without the .git suffix GitHub strips.
REPOSITORY = re.compile(r"^(?=[^/]{1,39}/)[A-Za-z0-9]+(-[A-Za-z0-9]+)*/(?![-.]*$)(?!-)(?!.*\.\.)(?!.*\.git$)[A-Za-z0-9_.-]{1,100}$")
WORKFLOW_PATH = re.compile(r"^\.github/workflows/[A-Za-z0-9_.-]+\.ya?ml$")
# A full branch or tag ref, its name as git accepts it (no '..', no trailing '/').
GIT_REF = re.compile(r"^refs/(heads|tags)/(?![-/.])(?!.*(\.\.|//|@\{|\.lock$|/\.))[A-Za-z0-9._/-]{1,255}(?<![/.])$")
HTTP_PATH = re.compile(r"^/\S*$")
MEMORY = re.compile(r"^[0-9]{1,6}(Mi|Gi)$")
PROJECT_NUMBER = re.compile(r"^[0-9]{6,20}$")
REGISTRY_REPOSITORY = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
VAR_NAME = re.compile(r"^[a-z_]{1,64}$")
# A data bucket's key: its {placeholder}, construct id and `purpose` label.
BUCKET_KEY = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
PLATFORM_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
API_NAME = re.compile(r"^[a-z0-9.-]+\.googleapis\.com$")
ROLE_NAME = re.compile(r"^roles/[A-Za-z0-9_.]+$")
PERMISSION = re.compile(r"^[a-z]+\.[A-Za-z]+\.[A-Za-z]+$")


@dataclass(frozen=True)
class _Matches:
    """The whole value matches `pattern`, else the refusal names `fix`."""

    pattern: re.Pattern[str]
    fix: str

    def _check(self, value: str) -> str:
        # fullmatch: `$` in re.match also accepts a trailing newline.
        if not self.pattern.fullmatch(value):
            raise ValueError(f"{echo(value)} is not valid: {self.fix}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        return {**handler(schema), "pattern": self.pattern.pattern}


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid GCS bucket name, or None when it is."""
    fix = "use 3-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit, without 'goog' prefix or 'google' in it"
    if not BUCKET_NAME.fullmatch(name) or ".." in name:
        return f"{echo(name)} is not a valid bucket name: {fix}"
    if name.startswith("goog") or "google" in name or "g00gle" in name:
        return f"{echo(name)} is reserved by Google: {fix}"
    return None


def _bucket_name(value: str) -> str:
    problem = bucket_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _project_id_restrictions(value: str) -> str:
    for word in PROJECT_ID_RESTRICTED:
        if word in value:
            raise ValueError(f"{echo(value)} contains {word!r}, which Google does not allow in project ids; use the project's real id")
    return value


def _memory(value: str) -> str:
    number, unit = int(value[:-2]), value[-2:]
    mib = number * (1024 if unit == "Gi" else 1)
    if not MEMORY_MIB[0] <= mib <= MEMORY_MIB[1]:
        raise ValueError(f"{value} is outside Cloud Run's memory limits; use 128Mi to 32Gi")
    return value


def _branch_not_a_full_ref(value: str) -> str:
    # refs/heads/main is a valid branch name, but surely meant as the ref: the
    # condition would pin refs/heads/refs/heads/main, which no push has.
    if value.startswith("refs/"):
        raise ValueError(f"{echo(value)} is a full ref; write the branch name alone, e.g. {echo(value.removeprefix('refs/heads/'))}")
    return value


def _region(value: str) -> str:
    if value not in GCP_REGIONS:
        raise ValueError(f"{echo(value)} is not a Google Cloud region; use one of e.g. us-east4, us-central1, europe-west1 (see `gcloud run regions list`)")
    return value


def _bucket_location(value: str) -> str:
    if value not in MULTI_REGIONS and value.lower() not in GCP_REGIONS:
        raise ValueError(f"{echo(value)} is not a bucket location; use a region such as us-east4 or one of US, EU, ASIA")
    return value


ProjectId = Annotated[
    str,
    _Matches(PROJECT_ID, "use 6-30 lowercase letters, digits or hyphens, starting with a letter"),
    AfterValidator(_project_id_restrictions),
]
ServiceName = Annotated[
    str,
    _Matches(SERVICE_NAME, "use lowercase letters, digits and hyphens, starting with a letter"),
]
SecretId = Annotated[str, _Matches(SECRET_ID, "use letters, digits, '_' or '-' (Secret Manager ids)")]
EnvName = Annotated[str, _Matches(ENV_NAME, "use letters, digits and '_', not starting with a digit")]
ImageName = Annotated[str, _Matches(IMAGE_NAME, "use lowercase letters, digits, '.', '_' or '-'")]
AccountId = Annotated[
    str,
    _Matches(ACCOUNT_ID, "use 6-30 lowercase letters, digits or hyphens, starting with a letter"),
]
PoolOrProviderId = Annotated[str, _Matches(POOL_OR_PROVIDER_ID, "use 4-32 lowercase letters, digits or hyphens")]
BucketName = Annotated[str, AfterValidator(_bucket_name), WithJsonSchema({"type": "string", "pattern": BUCKET_NAME.pattern})]
Repository = Annotated[
    str,
    _Matches(
        REPOSITORY,
        "use OWNER/REPOSITORY as GitHub spells it (owner: letters, digits, single hyphens inside; "
        "name: letters, digits, '.', '_', '-', not starting with '-', no '..', no .git suffix)",
    ),
]
WorkflowPath = Annotated[str, _Matches(WORKFLOW_PATH, "use a path such as .github/workflows/deploy.yml")]
GitRef = Annotated[str, _Matches(GIT_REF, "use a full ref such as refs/heads/main (a git branch or tag name: no '..', no trailing '/')")]
GroupName = Annotated[str, _Matches(GROUP_NAME, "use up to 63 lowercase letters, digits, '_' or '-', starting with a letter")]
RelativePath = Annotated[str, _Matches(RELATIVE_PATH, "use a relative path inside the application repository, e.g. mesh/Dockerfile")]
BranchName = Annotated[
    str,
    _Matches(BRANCH_NAME, "use a git branch name such as main or release/2024 (letters, digits, '.', '_', '-', '/')"),
    AfterValidator(_branch_not_a_full_ref),
]
ProbePath = Annotated[str, _Matches(HTTP_PATH, "use an absolute HTTP path such as /health")]
HealthPath = Annotated[str, _Matches(HTTP_PATH, "use an absolute HTTP path such as /healthcheck")]
EnvValue = Annotated[str, StringConstraints(max_length=MAX_ENV_VALUE_CHARS)]
Memory = Annotated[str, _Matches(MEMORY, "use e.g. 512Mi or 2Gi"), AfterValidator(_memory)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Region = Annotated[str, AfterValidator(_region), WithJsonSchema({"type": "string", "enum": sorted(GCP_REGIONS)})]
BucketLocation = Annotated[str, AfterValidator(_bucket_location)]


def _digits_of_a_number(value: Any) -> Any:
    """YAML reads an unquoted 123456789012 as a number: its digits are meant."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ProjectNumber = Annotated[
    str,
    BeforeValidator(_digits_of_a_number, json_schema_input_type=str | int),
    _Matches(PROJECT_NUMBER, "use the digits of `gcloud projects describe PROJECT --format='value(projectNumber)'`"),
]
RegistryRepository = Annotated[str, _Matches(REGISTRY_REPOSITORY, "use lowercase letters, digits and hyphens, starting with a letter")]
VarName = Annotated[str, _Matches(VAR_NAME, "use lowercase and '_'")]
BucketKey = Annotated[str, _Matches(BUCKET_KEY, "use up to 31 lowercase letters, digits and '_', starting with a letter (it is also a {placeholder})")]
PlatformName = Annotated[str, _Matches(PLATFORM_NAME, "use lowercase letters, digits, hyphens")]
ApiName = Annotated[str, _Matches(API_NAME, "use e.g. run.googleapis.com")]
RoleName = Annotated[str, _Matches(ROLE_NAME, "use e.g. roles/run.admin")]
Permission = Annotated[str, _Matches(PERMISSION, "use a permission such as run.services.update")]
EnvironmentName = Annotated[str, _Matches(ENVIRONMENT_NAME, "use 2-16 lowercase letters/digits")]
