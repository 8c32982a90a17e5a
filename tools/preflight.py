"""Preflight of an environment: everything a deploy reads but does not create.

    python -m tools.preflight ENV [--identity deployer|planner]
    make preflight ENV=production [IDENTITY=planner]

Checks, in one run, and lists every problem, one line each with its fix:
the state bucket (exists, keeps versions, the caller can use it under the app
stack's prefix), the Artifact Registry repository (in the region, format
DOCKER), every operator secret a service reads (exists, has an enabled
version; no payload is read), the URL secrets (adopted ones exist; the
bootstrap created the rest), every configured API enabled, what the bootstrap
stack creates for the app stack (runtime service accounts, the data
buckets), resources the stacks would create that exist already and are not
adopted (an apply would fail with 409), the caller's permissions (asked of
Google with testIamPermissions on the project, the state bucket, the secrets
and the runtime accounts; the list is the configuration's
`deployer_permissions` plus the permissions of `deployer_project_roles`, see
platform_config/role_permissions.py), and project roles the deployer holds
beyond configuration. A missing resource (404) and a missing permission (403)
are told apart. Exit 0 when all holds, 1 with problems, 2 on bad usage or
configuration.

`--identity planner` (the read-only CI identity, used by plan jobs) expects
only the read permissions of that list and reads the state instead of writing
a probe object.

Credentials: Application Default Credentials. Environment:
  PREFLIGHT_TIMEOUT         seconds per network call, retries included (default 20)
  STORAGE_EMULATOR_HOST     Cloud Storage endpoint (an emulator), as Google's client reads it
  PREFLIGHT_API_ENDPOINT    one endpoint for every other API (tests point it at a fake)
  PREFLIGHT_ANONYMOUS_CREDENTIALS=1   test only: anonymous credentials, never for real projects
"""

from __future__ import annotations

import functools
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypedDict, cast
from urllib.parse import quote

import google.auth
import google.cloud.storage as storage  # not `from google.cloud import`: untyped, mypy misses it in the typed namespace
import requests
from google.api_core import exceptions
from google.api_core.retry import Retry, if_transient_error
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as TokenRequest
from google.cloud import artifactregistry_v1, resourcemanager_v3, secretmanager_v1, service_usage_v1
from google.cloud.storage.retry import DEFAULT_RETRY as STORAGE_RETRY
from google.protobuf.json_format import ParseError

from platform_config import Platform, app_state_prefix, runtime_account_id
from platform_config.naming import (
    BOOTSTRAP_STATE_PREFIX,
    DEFAULT_OUTDIR,
    LOCAL_STATE_FILE,
    LOCK_OBJECT,
    STATE_OBJECT,
    app_stack_name,
    bootstrap_stack_name,
    ci_role_name,
    data_bucket_names,
    service_account_email,
    stack_directory,
    synth_outdir,
    url_secret_ids,
)
from platform_config.role_permissions import PLANNER_PERMISSIONS, ROLE_PERMISSIONS
from tools.cli import configured_platform

TIMEOUT_ENV = "PREFLIGHT_TIMEOUT"
API_ENDPOINT_ENV = "PREFLIGHT_API_ENDPOINT"
ANONYMOUS_ENV = "PREFLIGHT_ANONYMOUS_CREDENTIALS"
STORAGE_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
DEFAULT_TIMEOUT = 20.0

DEPLOY_FROM_SCRATCH = "(README, Deploy from scratch)"
IDENTITIES = ("deployer", "planner")

# What OpenTofu's gcs backend does with the state bucket: a locked apply
# writes, reads, lists and deletes objects; `plan -lock=false` reads and lists.
# https://opentofu.org/docs/language/settings/backends/gcs/
STATE_BACKEND_PERMISSIONS = {
    "deployer": ("storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list"),
    "planner": ("storage.objects.get", "storage.objects.list"),
}
# The app stack writes the URL secrets' versions and reads them back (the
# provider's google_secret_manager_secret_version: AddSecretVersion on create,
# AccessSecretVersion on every refresh, the planner's plans included).
# https://cloud.google.com/secret-manager/docs/access-control
URL_SECRET_PERMISSIONS = {
    "deployer": ("secretmanager.versions.access", "secretmanager.versions.add"),
    "planner": ("secretmanager.versions.access",),
}
# Deploying a Cloud Run service that runs as an account needs actAs on it.
# https://cloud.google.com/run/docs/securing/service-identity#permissions
RUNTIME_ACCOUNT_PERMISSIONS = {"deployer": ("iam.serviceAccounts.actAs",), "planner": ()}
# Where the bootstrap's state lives once moved into the bucket.
BOOTSTRAP_STATE_OBJECT = f"{BOOTSTRAP_STATE_PREFIX}/{STATE_OBJECT}"
# The resource types of a state file that the preflight looks for: their kind
# here, and the attribute that names each.
STATE_NAMES = {
    "google_cloud_run_v2_service": ("service", "name"),
    "google_service_account": ("account", "email"),
    "google_secret_manager_secret": ("secret", "secret_id"),
    "google_storage_bucket": ("bucket", "name"),
}


def required_permissions(platform: Platform, identity: str) -> tuple[list[str], list[str]]:
    """(the permissions the identity needs on the project, roles missing from
    the expansion table). The deployer: `deployer_permissions` plus the
    permissions of `deployer_project_roles`; the planner: its own role's list."""
    unknown = [role for role in platform.deployer_project_roles if role not in ROLE_PERMISSIONS]
    permissions = set(platform.deployer_permissions)
    for role in platform.deployer_project_roles:
        permissions.update(ROLE_PERMISSIONS.get(role, ()))
    if identity == "planner":
        return sorted(PLANNER_PERMISSIONS), []
    return sorted(permissions), unknown


def scoped(permissions: list[str], resource_type: str) -> list[str]:
    """The permissions testIamPermissions accepts on one resource of a type
    (e.g. `secretmanager.secrets`): its own and its children's, without
    creating or listing resources of that type (those belong to the parent)."""
    service = resource_type.split(".")[0]
    own = {f"{resource_type}.create", f"{resource_type}.list"}
    return [p for p in permissions if p.startswith(f"{service}.") and p not in own]


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, line: str) -> None:
        if line not in self.problems:
            self.problems.append(line)


class RestClientArguments(TypedDict):
    """What every GAPIC client here is built with."""

    credentials: Credentials
    transport: str
    client_options: dict[str, str] | None


class Google:
    """Google's client libraries, REST transport, one bounded timeout; the
    IAM and Cloud Run admin APIs (no client library installed) through
    google-auth's authorized session."""

    DEFAULT_HOSTS: ClassVar[dict[str, str]] = {
        "Artifact Registry": "https://artifactregistry.googleapis.com",
        "Secret Manager": "https://secretmanager.googleapis.com",
        "Service Usage": "https://serviceusage.googleapis.com",
        "Resource Manager": "https://cloudresourcemanager.googleapis.com",
        "IAM": "https://iam.googleapis.com",
        "Cloud Run": "https://run.googleapis.com",
    }

    def __init__(self, credentials: Credentials, project: str, timeout: float, api_endpoint: str | None = None):
        self.timeout = timeout
        self.api_endpoint = api_endpoint
        self.retry = Retry(predicate=if_transient_error, initial=0.1, maximum=2.0, timeout=timeout)
        self.storage_retry = STORAGE_RETRY.with_timeout(timeout)
        options = {"api_endpoint": api_endpoint} if api_endpoint else None
        rest: RestClientArguments = {"credentials": credentials, "transport": "rest", "client_options": options}
        self.storage = storage.Client(project=project, credentials=credentials)
        self.registry = artifactregistry_v1.ArtifactRegistryClient(**rest)
        self.secrets = secretmanager_v1.SecretManagerServiceClient(**rest)
        self.apis = service_usage_v1.ServiceUsageClient(**rest)
        self.projects = resourcemanager_v3.ProjectsClient(**rest)
        self.session = AuthorizedSession(credentials, refresh_timeout=timeout)

    @property
    def gapic(self) -> dict:
        """Keyword arguments of every client-library call."""
        return {"timeout": self.timeout, "retry": self.retry}

    @property
    def gcs(self) -> dict:
        return {"timeout": self.timeout, "retry": self.storage_retry}

    def endpoint(self, api: str) -> str:
        if api == "Cloud Storage":
            return os.environ.get(STORAGE_EMULATOR_ENV) or "https://storage.googleapis.com"
        return self.api_endpoint or self.DEFAULT_HOSTS[api]

    def rest(self, api: str, method: str, path: str, body: dict | None = None) -> dict:
        """One call of a documented REST method; errors as google.api_core exceptions."""

        def call() -> dict:
            response = self.session.request(method, f"{self.endpoint(api)}/{path}", json=body, timeout=self.timeout)
            if response.status_code >= 400:
                raise exceptions.from_http_response(response)
            return response.json()

        return self.retry(call)()


class Preflight:
    def __init__(self, platform: Platform, env_name: str, identity: str, google: Google, outdir: Path = Path(DEFAULT_OUTDIR)):
        self.platform, self.env_name, self.identity, self.google = platform, env_name, identity, google
        self.env = platform.environments[env_name]
        self.project, self.region = self.env.project_id, self.env.region
        self.outdir = outdir
        self.permissions, self.unknown_roles = required_permissions(platform, identity)
        self.report = Report()
        # Names in the app stack's state, and in the bootstrap stack's when
        # readable (None: not readable here).
        self.app_managed: set[tuple[str, str]] = set()
        self.bootstrap_managed: set[tuple[str, str]] | None = None
        # Secret name -> exists (None: 403), so a secret is asked for once.
        self.secrets_seen: dict[str, bool | None] = {}
        self.failed_apis: set[str] = set()
        # What this identity is meant to hold; a 403 outside it is a note.
        self.expected = {
            *self.permissions,
            *STATE_BACKEND_PERMISSIONS[identity],
            *URL_SECRET_PERMISSIONS[identity],
            *RUNTIME_ACCOUNT_PERMISSIONS[identity],
        }
        self.unchecked: dict[str, list[str]] = {}

    # --- wording --------------------------------------------------------------

    @property
    def bootstrap_first(self) -> str:
        return f"apply {bootstrap_stack_name(self.env_name)} first {DEPLOY_FROM_SCRATCH}"

    def denied(self, what: str, permission: str) -> str:
        return (
            f"permission denied on {what} ({permission} missing, so whether it exists is unknown): run as the "
            f"{self.identity} of {self.env_name}, or re-apply {bootstrap_stack_name(self.env_name)}, which grants it"
        )

    def forbidden(self, what: str, permission: str) -> None:
        """A 403 on reading something. A problem when configuration gives this
        identity the permission; otherwise this identity is not meant to read
        it (e.g. the deployer and operator secrets) and a note says what the
        run left out: the other identity's preflight, or an admin's, checks it."""
        if permission in self.expected:
            self.report.problem(self.denied(what, permission))
        else:
            self.unchecked.setdefault(permission, []).append(what)

    def lacks(self, permissions: list[str], where: str) -> None:
        if permissions:
            self.report.problem(
                f"the {self.identity} of {self.env_name} lacks {', '.join(permissions)} on {where}: "
                f"re-apply {bootstrap_stack_name(self.env_name)} (it grants them), or run as the {self.identity}"
            )

    def not_adopted(self, what: str, adopt_field: str) -> str:
        return f"{what} exists in {self.project} but is not adopted: add it to environments.{self.env_name}.{adopt_field} or the apply fails with 409"

    # --- the run --------------------------------------------------------------

    def run(self) -> Report:
        if self.unknown_roles:
            self.report.problem(
                f"no permission list for {', '.join(self.unknown_roles)} (deployer_project_roles): add each role's "
                "permissions to platform_config/role_permissions.py (`gcloud iam roles describe ROLE`)"
            )
        checks = (
            ("Cloud Storage", self.state_bucket),
            ("Artifact Registry", self.registry),
            ("Service Usage", self.enabled_apis),
            ("Secret Manager", self.operator_secrets),
            ("Secret Manager", self.url_secrets),
            ("IAM", self.runtime_accounts),
            ("Cloud Storage", self.data_buckets),
            ("Cloud Run", self.cloud_run_services),
            ("Resource Manager", self.project_permissions),
            ("Resource Manager", self.deployer_roles),
        )
        for api, check in checks:
            self._guarded(api, check)
        for permission, things in self.unchecked.items():
            self.report.notes.append(
                f"not checked as the {self.identity} of {self.env_name}, which configuration does not give {permission}: "
                f"{', '.join(things)} (the other CI identity's preflight, or an admin's, checks them)"
            )
        return self.report

    def _guarded(self, api: str, check) -> None:
        """One line for a failure of the API itself; the checks of other APIs go on."""
        if api in self.failed_apis:
            return
        where = f"{api} ({self.google.endpoint(api)})"
        try:
            check()
            return
        except exceptions.RetryError as error:
            cause = error.cause
        except Exception as error:
            cause = error
        garbage = f"{where} answered with something that is not its API's JSON: {short_error(cause)}"
        if isinstance(cause, (requests.Timeout, exceptions.DeadlineExceeded)):
            line = f"{where} did not answer within {self.google.timeout:g} s: check the network and retry ({TIMEOUT_ENV} sets the limit)"
        elif isinstance(cause, (ParseError, json.JSONDecodeError)):
            line = garbage
        elif isinstance(cause, (requests.RequestException, auth_exceptions.TransportError)):
            line = f"cannot reach {where}: {short_error(cause)}"
        elif isinstance(cause, auth_exceptions.RefreshError):
            line = f"credentials were refused by Google: {short_error(cause)}; run `gcloud auth application-default login`"
        elif isinstance(cause, ValueError):
            line = garbage
        elif isinstance(cause, exceptions.GoogleAPICallError):
            # An answer to one call (e.g. 400 for a permission name Google does
            # not know): the API itself works, its other checks go on.
            self.report.problem(f"{where} answered unexpectedly: {short_error(cause)}")
            return
        else:
            raise cause
        self.failed_apis.add(api)
        self.report.problem(line)

    # --- state bucket ---------------------------------------------------------

    def state_bucket(self) -> None:
        name, prefix = self.env.state_bucket, app_state_prefix(self.env_name)
        url = f"gs://{name}"
        client, gcs = self.google.storage, self.google.gcs
        try:
            bucket = client.get_bucket(name, **gcs)
        except exceptions.NotFound:
            self.report.problem(f"state bucket {url} does not exist in {self.project}: {self.bootstrap_first}")
            return
        except exceptions.Forbidden:
            self.report.problem(self._forbidden_bucket(url, prefix))
            return
        self.same_location(bucket, self.env.state_bucket_location or self.region, f"state bucket {url}", f"environments.{self.env_name}.state_bucket_location")
        if not bucket.versioning_enabled:
            self.report.problem(
                f"state bucket {url} does not keep versions, so a bad state write cannot be undone: "
                f"apply {bootstrap_stack_name(self.env_name)} (it turns versioning on) or run "
                f"`gcloud storage buckets update {url} --versioning`"
            )
        needed = STATE_BACKEND_PERMISSIONS[self.identity]
        missing = sorted(set(needed) - set(bucket.test_iam_permissions(list(needed), **gcs)))
        self.lacks(missing, f"{url} (state)")
        if not missing and self.identity == "deployer":
            self._probe_objects(bucket, prefix)
        self._read_states(bucket, prefix)

    def same_location(self, bucket: storage.Bucket, configured: str, what: str, field: str) -> None:
        """A bucket's location cannot change: the bootstrap would replace an
        existing bucket whose location differs from configuration
        (google_storage_bucket's `location` is ForceNew)."""
        actual = (bucket.location or "").upper()
        if actual and actual != configured.upper():
            self.report.problem(
                f"{what} is in {actual}, configuration says {configured.upper()}: a bucket cannot move, so the bootstrap "
                f"would replace it; set {field}: {actual}"
            )

    def _forbidden_bucket(self, url: str, prefix: str) -> str:
        """A 403 on the bucket: tell a missing bucket from a missing permission
        by listing its objects, which the deployer may do on an existing one."""
        try:
            list(self.google.storage.list_blobs(url[5:], prefix=prefix, max_results=1, **self.google.gcs))
        except exceptions.NotFound:
            return f"state bucket {url} does not exist in {self.project}: {self.bootstrap_first}"
        except exceptions.Forbidden:
            return self.denied(f"state bucket {url}", "storage.objects.list")
        return (
            f"cannot read the settings of state bucket {url} (storage.buckets.get denied), so versioning "
            f"cannot be verified: re-apply {bootstrap_stack_name(self.env_name)}, which grants it to the deployer"
        )

    def _probe_objects(self, bucket: storage.Bucket, prefix: str) -> None:
        """What `tofu init` and a locked apply do: write, read and delete under the prefix."""
        blob = bucket.blob(f"{prefix}/preflight-{uuid.uuid4().hex}")
        where = f"gs://{bucket.name}/{prefix}/"
        gcs = self.google.gcs
        steps = (
            ("write", lambda: blob.upload_from_string(b"preflight", if_generation_match=0, **gcs)),
            ("read", lambda: blob.download_as_bytes(**gcs)),
            ("delete", lambda: blob.delete(**gcs)),
        )
        for action, step in steps:
            try:
                step()
            except exceptions.Forbidden:
                self.report.problem(
                    f"cannot {action} objects under {where}: grant the deployer roles/storage.objectAdmin on "
                    f"gs://{bucket.name} ({bootstrap_stack_name(self.env_name)} does)"
                )
                return

    def _read_states(self, bucket: storage.Bucket, prefix: str) -> None:
        """What the stacks manage already (created or adopted): no 409 for those."""
        app_state = f"{prefix}/{STATE_OBJECT}"
        if self._app_state_missing(bucket, app_state):
            # OpenTofu's GCS backend writes an empty state where there is none
            # (already in `tofu init`), which the planner may not (tools/seed_state.py).
            self.report.problem(
                f"the app state gs://{bucket.name}/{app_state} does not exist, so the planner's `tofu init` would fail "
                f"(it may not create it): an admin runs `make seed-state ENV={self.env_name}` once (README, Deploy from scratch)"
            )
        self._held_lock(bucket, f"{prefix}/{LOCK_OBJECT}")
        self.app_managed = self._state_names(bucket, app_state) or set()
        if self.env.bootstrap_backend == "gcs":
            self.bootstrap_managed = self._state_names(bucket, BOOTSTRAP_STATE_OBJECT)
            return
        local = self.outdir / "stacks" / bootstrap_stack_name(self.env_name) / LOCAL_STATE_FILE
        if local.is_file():
            self.bootstrap_managed = _names_in_state(local.read_text())
        else:
            self.report.notes.append(
                f"the state of {bootstrap_stack_name(self.env_name)} is local and not at {local}, so whether existing runtime "
                "accounts, URL secrets and data buckets are adopted is not checked: run the preflight "
                "where that state is, or move it into the bucket (README, Deploy from scratch, step 3)"
            )

    def _held_lock(self, bucket: storage.Bucket, name: str) -> None:
        """A lock left by a run that died would fail the apply after the
        approval ("Error acquiring the state lock"): say so before. The lock
        object is OpenTofu's LockInfo as JSON; its id for force-unlock is the
        object's generation (OpenTofu's gcs remoteClient.Lock)."""
        lock = bucket.blob(name)
        try:
            if not lock.exists(**self.google.gcs):
                return
            lock.reload(**self.google.gcs)
            info = json.loads(lock.download_as_bytes(**self.google.gcs))
        except exceptions.Forbidden:
            return  # told by _state_names, which reads the same prefix
        except (exceptions.NotFound, ValueError):
            info = {}  # released meanwhile, or not OpenTofu's
        holder = ", ".join(f"{key.lower()} {info[key]}" for key in ("Who", "Operation", "Created") if isinstance(info, dict) and info.get(key))
        stack = app_stack_name(self.env_name)
        self.report.problem(
            f"the state of {stack} is locked (gs://{bucket.name}/{name}{': ' + holder if holder else ''}): if that run is still "
            f"going, wait for it; if it died, an admin runs `tofu -chdir={stack_directory(stack)} force-unlock {lock.generation}`"
        )

    def _app_state_missing(self, bucket: storage.Bucket, name: str) -> bool:
        try:
            return not bucket.blob(name).exists(**self.google.gcs)
        except exceptions.Forbidden:
            return False  # told by _state_names, which reads it

    def _state_names(self, bucket: storage.Bucket, name: str) -> set[tuple[str, str]] | None:
        try:
            return _names_in_state(bucket.blob(name).download_as_text(**self.google.gcs))
        except exceptions.NotFound:
            return set()
        except exceptions.Forbidden:
            self.report.problem(self.denied(f"gs://{bucket.name}/{name}", "storage.objects.get"))
            return None

    def managed(self, kind: str, name: str) -> bool | None:
        """Whether a stack's state holds it; None when that cannot be told."""
        if (kind, name) in self.app_managed:
            return True
        return None if self.bootstrap_managed is None else (kind, name) in self.bootstrap_managed

    # --- registry and APIs -----------------------------------------------------

    def registry(self) -> None:
        repository = self.env.registry_repository
        name = f"projects/{self.project}/locations/{self.region}/repositories/{repository}"
        what = f"Artifact Registry repository {repository} in {self.project} ({self.region})"
        try:
            found = self.google.registry.get_repository(name=name, **self.google.gapic)
        except exceptions.NotFound:
            self.report.problem(f"Artifact Registry repository {repository} does not exist in {self.project} ({self.region}): {self.bootstrap_first}")
            return
        except exceptions.Forbidden:
            self.forbidden(what, "artifactregistry.repositories.get")
            return
        docker = artifactregistry_v1.Repository.Format.DOCKER
        if found.format_ != docker:
            self.report.problem(
                f"{what} has format {artifactregistry_v1.Repository.Format(found.format_).name}, not DOCKER: "
                f"images cannot be pushed to it; set environments.{self.env_name}.registry_repository to another name "
                "(bootstrap creates it) or delete that repository"
            )

    def enabled_apis(self) -> None:
        parent = f"projects/{self.project}"
        apis = self.platform.apis
        for start in range(0, len(apis), 20):  # batchGet takes at most 30 names
            names = [f"{parent}/services/{api}" for api in apis[start : start + 20]]
            try:
                answer = self.google.apis.batch_get_services(request={"parent": parent, "names": names}, **self.google.gapic)
            except exceptions.Forbidden:
                self.forbidden(f"the API list of {self.project}", "serviceusage.services.get")
                return
            # Google names them by project number: projects/123/services/run.googleapis.com
            enabled = {s.name.rsplit("/", 1)[1] for s in answer.services if s.state == service_usage_v1.State.ENABLED}
            for api in apis[start : start + 20]:
                if api not in enabled:
                    self.report.problem(
                        f"API {api} is not enabled in {self.project}: apply {bootstrap_stack_name(self.env_name)} "
                        f"or run `gcloud services enable {api} --project {self.project}`"
                    )

    # --- secrets ---------------------------------------------------------------

    def operator_secrets(self) -> None:
        readers: dict[str, list[str]] = {}
        for service in self.platform.services:
            for secret in service.secrets.values():
                readers.setdefault(secret, []).append(service.name)
        for secret, services in sorted(readers.items()):
            name = f"projects/{self.project}/secrets/{secret}"
            read_by = f"read by {', '.join(services)}"
            exists = self._secret_exists(name, f"operator secret {secret}")
            if exists is False:
                self.report.problem(
                    f"operator secret {secret} does not exist in {self.project} ({read_by}): an operator creates it "
                    f"with its value: `gcloud secrets create {secret} --project {self.project} --data-file=-`"
                )
            if not exists:
                continue
            try:
                versions = self.google.secrets.list_secret_versions(request={"parent": name, "filter": "state:ENABLED", "page_size": 1}, **self.google.gapic)
                has_enabled = next(iter(versions), None) is not None
            except exceptions.Forbidden:
                self.forbidden(f"the versions of secret {secret}", "secretmanager.versions.list")
                continue
            if not has_enabled:
                self.report.problem(
                    f"operator secret {secret} in {self.project} has no enabled version ({read_by}), so those revisions "
                    f"cannot start: add one with `gcloud secrets versions add {secret} --project {self.project} --data-file=-`"
                )

    def _secret_exists(self, name: str, what: str | None) -> bool | None:
        """True, False (404), or None after reporting a 403 (when `what` is given)."""
        cache = self.secrets_seen
        if name not in cache:
            try:
                self.google.secrets.get_secret(name=name, **self.google.gapic)
                cache[name] = True
            except exceptions.NotFound:
                cache[name] = False
            except exceptions.Forbidden:
                cache[name] = None
        if cache[name] is None and what:
            self.forbidden(what, "secretmanager.secrets.get")
        return cache[name]

    def url_secrets(self) -> None:
        adopted = set(self.env.adopt_secrets)
        ids = url_secret_ids(self.platform, self.env_name)
        secret_permissions = sorted({*scoped(self.permissions, "secretmanager.secrets"), *URL_SECRET_PERMISSIONS[self.identity]})
        for secret in ids:
            name = f"projects/{self.project}/secrets/{secret}"
            exists = self._secret_exists(name, f"URL secret {secret}")
            if exists is False:
                self.report.problem(
                    f"URL secret {secret} is adopted (environments.{self.env_name}.adopt_secrets) but does not exist in "
                    f"{self.project}: remove it from adopt_secrets, then {self.bootstrap_first}"
                    if secret in adopted
                    else f"URL secret {secret} missing in {self.project}: {self.bootstrap_first}"
                )
            if not exists:
                continue
            if secret not in adopted and self.managed("secret", secret) is False:
                self.report.problem(self.not_adopted(f"URL secret {secret}", "adopt_secrets"))
            granted = self.google.secrets.test_iam_permissions(request={"resource": name, "permissions": secret_permissions}, **self.google.gapic).permissions
            self.lacks(sorted(set(secret_permissions) - set(granted)), f"secret {secret}")

    # --- what the bootstrap creates for the app stack ----------------------------

    def runtime_accounts(self) -> None:
        adopted = set(getattr(self.env, "adopt_runtime_accounts", []))
        needed = list(RUNTIME_ACCOUNT_PERMISSIONS[self.identity])
        for service in self.platform.services:
            email = service_account_email(runtime_account_id(service.name, self.env_name), self.project)
            path = f"v1/projects/{self.project}/serviceAccounts/{quote(email)}"
            try:
                self.google.rest("IAM", "GET", path)
            except exceptions.NotFound:
                self.report.problem(f"runtime identity of {service.name} ({email}) missing: {self.bootstrap_first}")
                continue
            except exceptions.Forbidden:
                self.forbidden(f"runtime identity of {service.name} ({email})", "iam.serviceAccounts.get")
                continue
            if service.name not in adopted and self.managed("account", email) is False:
                self.report.problem(self.not_adopted(f"runtime identity of {service.name} ({email})", "adopt_runtime_accounts"))
            if needed:
                answer = self.google.rest("IAM", "POST", f"{path}:testIamPermissions", {"permissions": needed})
                self.lacks(sorted(set(needed) - set(answer.get("permissions", []))), email)

    def data_buckets(self) -> None:
        adopted = set(self.env.adopt_buckets)
        for key, name in data_bucket_names(self.platform, self.env_name).items():
            what = f"{key} bucket gs://{name}"
            try:
                bucket = self.google.storage.get_bucket(name, **self.google.gcs)
            except exceptions.NotFound:
                self.report.problem(
                    f"{what} is adopted (environments.{self.env_name}.adopt_buckets) but does not exist in {self.project}: "
                    f"remove it from adopt_buckets, then {self.bootstrap_first}"
                    if key in adopted
                    else f"{what} missing in {self.project}: {self.bootstrap_first}"
                )
                continue
            except exceptions.Forbidden:
                self.forbidden(what, "storage.buckets.get")
                continue
            self.same_location(bucket, self.platform.data_buckets[key].location or self.region, what, f"data_buckets.{key}.location")
            if key not in adopted and self.managed("bucket", name) is False:
                self.report.problem(self.not_adopted(what, "adopt_buckets"))

    def cloud_run_services(self) -> None:
        """Services the app stack would create: in neither its state nor adopted."""
        adopted = set(getattr(self.env, "adopt_services", []))
        for service in self.platform.services:
            path = f"v2/projects/{self.project}/locations/{self.region}/services/{service.name}"
            try:
                self.google.rest("Cloud Run", "GET", path)
            except exceptions.NotFound:
                continue
            except exceptions.Forbidden:
                self.forbidden(f"Cloud Run service {service.name}", "run.services.get")
                continue
            if service.name not in adopted and ("service", service.name) not in self.app_managed:
                self.report.problem(self.not_adopted(f"service {service.name}", "adopt_services"))

    # --- permissions and roles ---------------------------------------------------

    def project_permissions(self) -> None:
        resource = f"projects/{self.project}"
        granted: set[str] = set()
        for start in range(0, len(self.permissions), 100):  # at most 100 per call
            chunk = self.permissions[start : start + 100]
            answer = self.google.projects.test_iam_permissions(request={"resource": resource, "permissions": chunk}, **self.google.gapic)
            granted.update(answer.permissions)
        self.lacks([p for p in self.permissions if p not in granted], f"project {self.project}")

    def deployer_roles(self) -> None:
        """Project roles the deployer holds beyond configuration (e.g. from the
        hand-made setup): adoption does not remove them."""
        email = service_account_email(self.env.deployer_account_id, self.project)
        member = f"serviceAccount:{email}"
        expected = set(self.platform.deployer_project_roles)
        if self.platform.deployer_permissions:
            expected.add(ci_role_name(self.project, "deployer", self.env_name))
        try:
            policy = self.google.projects.get_iam_policy(
                request={"resource": f"projects/{self.project}", "options": {"requested_policy_version": 3}},
                **self.google.gapic,
            )
        except exceptions.Forbidden:
            self.report.notes.append(
                f"extra project roles of {email} not checked: reading the IAM policy of {self.project} needs "
                "resourcemanager.projects.getIamPolicy (an admin runs the preflight to see them)"
            )
            return
        for binding in policy.bindings:
            if member in binding.members and binding.role not in expected:
                condition = " --all" if binding.condition.expression else ""
                self.report.problem(
                    f"the deployer {email} holds {binding.role} on {self.project}, beyond configuration: remove it with "
                    f"`gcloud projects remove-iam-policy-binding {self.project} --member={member} --role={binding.role}{condition}` "
                    "or add it to deployer_project_roles"
                )


def _names_in_state(text: str) -> set[tuple[str, str]]:
    """(kind, name) of the resources in a Terraform/OpenTofu state file."""
    names: set[tuple[str, str]] = set()
    for resource in json.loads(text).get("resources", []):
        known = STATE_NAMES.get(resource.get("type"))
        if known is None:
            continue
        kind, attribute = known
        for instance in resource.get("instances", []):
            value = instance.get("attributes", {}).get(attribute)
            if value:
                names.add((kind, value))
    return names


def short_error(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


def credentials(timeout: float) -> Credentials:
    """Application Default Credentials with a fresh token, fetched once within
    the timeout (google-auth's own default is 120 s), so broken credentials
    are one line rather than one per API."""
    if os.environ.get(ANONYMOUS_ENV) == "1":
        return AnonymousCredentials()
    # Also bounds the project lookup that google.auth.default does for
    # federated (external_account) credentials, the kind CI uses.
    # cast: google-auth annotates `request` as a Request, yet takes (and
    # unwraps, in _regional_access_boundary_utils) a functools.partial of one.
    bounded = cast(TokenRequest, functools.partial(TokenRequest(), timeout=timeout))
    found, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"], request=bounded)
    found.refresh(bounded)
    return found


def timeout_setting() -> float:
    value = os.environ.get(TIMEOUT_ENV, "")
    try:
        timeout = float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        timeout = -1
    if not 0 < timeout <= 600:
        raise ValueError(f"{TIMEOUT_ENV}={value!r} is not a number of seconds between 0 and 600; unset it or fix it")
    return timeout


class NoConnection(Exception):
    """Google cannot be asked (credentials, timeout setting): one line with the fix."""


def connect(project: str) -> Google:
    """Google's clients for `project`, credentials and endpoints from the
    environment; NoConnection with the fix when that cannot work."""
    try:
        timeout = timeout_setting()
        return Google(credentials(timeout), project, timeout, os.environ.get(API_ENDPOINT_ENV))
    except auth_exceptions.DefaultCredentialsError as error:
        cause = f" ({short_error(error)})" if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") else ""
        raise NoConnection(
            f"no Google credentials{cause}: run `gcloud auth application-default login` (in CI, google-github-actions/auth runs first)"
        ) from None
    except OSError as error:
        raise NoConnection(
            f"cannot read the credentials file {error.filename}: {error.strerror}; point "
            "GOOGLE_APPLICATION_CREDENTIALS at a credentials JSON file, or unset it and run `gcloud auth application-default login`"
        ) from None
    except (auth_exceptions.RefreshError, auth_exceptions.OAuthError) as error:
        raise NoConnection(
            f"Google refused the credentials: {short_error(error)}; run `gcloud auth application-default login` "
            "(in CI, check the google-github-actions/auth step)"
        ) from None
    except auth_exceptions.TransportError as error:
        raise NoConnection(f"cannot get an access token from Google: {short_error(error)}") from None
    except ValueError as error:
        raise NoConnection(short_error(error)) from None


def preflight(platform: Platform, env_name: str, identity: str = "deployer") -> Report:
    """Every check for one environment; credentials and endpoints from the environment."""
    try:
        google_apis = connect(platform.environments[env_name].project_id)
    except NoConnection as error:
        return Report(problems=[str(error)])
    return Preflight(platform, env_name, identity, google_apis, Path(synth_outdir())).run()


def _parse_args(argv: list[str]) -> tuple[str | None, str]:
    """(ENV, identity) of `ENV [--identity NAME]`; ENV is None when not exactly one is given."""
    positional, identity = [], "deployer"
    words = iter(argv)
    for word in words:
        if word == "--identity":
            identity = next(words, "")
        elif word.startswith("--identity="):
            identity = word.partition("=")[2]
        else:
            positional.append(word)
    return (positional[0] if len(positional) == 1 else None), identity


def main(argv: list[str] | None = None) -> int:
    platform = configured_platform()
    if platform is None:
        return 2
    usage = f"make preflight ENV=<{'|'.join(platform.environments)}> [IDENTITY=<{'|'.join(IDENTITIES)}>]"
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--help"], ["-h"]):
        print(f"usage: {usage}\n   or: python -m tools.preflight <{'|'.join(platform.environments)}> [--identity {'|'.join(IDENTITIES)}]\n\n{__doc__}", end="")
        return 0
    env_name, identity = _parse_args(argv)
    if env_name not in platform.environments or identity not in IDENTITIES:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    report = preflight(platform, env_name, identity)
    for note in report.notes:
        print(f"preflight: note: {note}")
    for problem in report.problems:
        print(f"preflight: {problem}", file=sys.stderr)
    if not report.problems:
        print(f"preflight: {env_name} is ready to deploy as the {identity} ({platform.environments[env_name].project_id})")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
