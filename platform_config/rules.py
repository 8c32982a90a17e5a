"""Rules that relate configuration fields to each other (a service reading an
undeclared secret, a call to an unknown service, ...): one function per rule,
named for it. `cross_check` runs them in a fixed order and every problem is
reported at its own field path."""

from __future__ import annotations

from .echo import echo
from .gcp import (
    MAX_CONDITION_LENGTH,
    MAX_ENV_VARS,
    MAX_MAPPING_EXPRESSION_LENGTH,
    RESERVED_ENV_NAMES,
    STARTUP_PROBE_MAX_SECONDS,
)
from .model import Environment, Platform, Service
from .naming import (
    BUILTIN_PLACEHOLDERS,
    IMAGE_TAGS_OUTPUT,
    INFRASTRUCTURE_COMMIT_OUTPUT,
    INFRASTRUCTURE_COMMIT_VARIABLE,
    ROLLOUT_OUTPUT,
    ROLLOUT_VARIABLE,
    UNBUILT_IMAGES_VARIABLE,
    data_bucket_name,
    image_tag_variable_name,
    runtime_account_id,
    service_urls_secret_id,
)
from .patterns import ACCOUNT_ID, CREDENTIAL_NAME, SECRET_ID, bucket_name_problem
from .templates import TemplateError, placeholders
from .workload_identity import attribute_condition, attribute_mapping

Problem = tuple[tuple[str | int, ...], str]

# Roles that would make the CI deployer a project owner in all but name.
FORBIDDEN_DEPLOYER_ROLES = frozenset({"roles/owner", "roles/editor"})
# Ids directly in the app or bootstrap stack besides the services' and the
# data buckets' own: a service's name or a data bucket's key equal to one
# would clash (cdktf refuses two constructs of one id). tests/test_bad_input.py
# checks the list against every synthesized stack.
RESERVED_CONSTRUCT_IDS = frozenset(
    {
        # both stacks: provider, backend
        "google",
        "backend",
        # app stack
        "project",
        "registry-check",
        "runtime-identities-check",
        ROLLOUT_VARIABLE,
        ROLLOUT_OUTPUT,
        IMAGE_TAGS_OUTPUT,
        UNBUILT_IMAGES_VARIABLE,
        INFRASTRUCTURE_COMMIT_VARIABLE,
        INFRASTRUCTURE_COMMIT_OUTPUT,
        "service_urls",
        # bootstrap stack
        "apis",
        "registry",
        "state-bucket",
        "deployer",
        "planner",
        "builder",
        "github",
        "operator-secrets",
        "deployer_email",
        "planner_email",
        "builder_email",
        "workload_identity_provider",
        "registry_url_prefix",
        "state_bucket",
    }
)
RESERVED_PREFIXES = ("image-check-", "url-secret-", "image_tag_")
# Words tools/ci_plan.py takes where an environment's name may stand.
RESERVED_ENVIRONMENT_NAMES = frozenset({"prepare", "environments"})

NAME_PLACEHOLDERS = frozenset({"env", "project"})
CI_ACCOUNT_FIELDS = ("deployer_account_id", "planner_account_id", "builder_account_id")
# Environment lists of configured services, each naming a service once.
SERVICE_LIST_FIELDS = ("adopt_services", "adopt_runtime_accounts", "first_apply_services", "retiring_services")


def cross_check(platform: Platform) -> list[Problem]:
    """Every problem between fields, services first, then the platform-wide
    rules, then each environment's."""
    problems: list[Problem] = []
    for index, service in enumerate(platform.services):
        for rule in SERVICE_RULES:
            problems += rule(platform, index, service)
    problems += env_group_values_plain(platform)
    problems += url_names_unique(platform)
    problems += image_tag_variables_distinct(platform)
    problems += deployer_roles_narrow(platform)
    problems += lists_without_duplicates(platform)
    problems += data_bucket_keys_apart(platform)

    template_problems = name_templates_valid(platform)
    problems += template_problems
    for env_name, environment in platform.environments.items():
        for index, service in enumerate(platform.services):
            problems += placeholders_defined(platform, env_name, environment, ("services", index, "env"), service.env)
            problems += runtime_account_id_fits(index, service, env_name)
        for group, values in platform.env_groups.items():
            problems += placeholders_defined(platform, env_name, environment, ("env_groups", group), values)
        problems += vars_apart_from_other_placeholders(platform, env_name, environment)
        # Names rendered from a broken template would only repeat its problem.
        if not template_problems:
            problems += data_bucket_names_valid(platform, env_name)
            problems += created_secrets_valid(platform, env_name, environment)
    problems += bucket_names_unique(platform, with_data_buckets=not template_problems)

    problems += repositories_apart(platform)
    problems += repository_ids_apart(platform)
    problems += plan_workflows_listed_once(platform)
    for env_name, environment in platform.environments.items():
        problems += project_not_shared(platform, env_name, environment)
        problems += project_number_not_shared(platform, env_name, environment)
        problems += ci_accounts_distinct(env_name, environment)
        problems += ci_accounts_apart_from_runtime_accounts(platform, env_name, environment)
        problems += workload_identity_within_google_limits(platform, env_name)
    problems += deploy_branches_apart(platform)
    problems += environment_names_not_reserved(platform)
    problems += adopted_services_configured(platform)
    problems += service_lists_without_duplicates(platform)
    problems += adopted_buckets_configured(platform)
    problems += invoker_check_off_only_when_public(platform)
    return problems


def _template_problem(template: str) -> str | None:
    try:
        placeholders(template)
    except TemplateError as error:
        return str(error)
    return None


def _unknown_placeholders(template: str, known: frozenset[str] | set[str]) -> set[str]:
    """Unknown names in a well-formed template (a malformed one is reported once, elsewhere)."""
    try:
        return placeholders(template) - known
    except TemplateError:
        return set()


def _duplicates(values: list) -> list:
    """Values listed more than once, each once, in order."""
    seen: set = set()
    repeated: dict = {}
    for value in values:
        if value in seen:
            repeated[value] = None
        seen.add(value)
    return list(repeated)


# --- per service ----------------------------------------------------------------


def service_name_unique(platform: Platform, index: int, service: Service) -> list[Problem]:
    names = [s.name for s in platform.services]
    if names.count(service.name) > 1 and names.index(service.name) != index:
        return [(("services", index, "name"), f"duplicate service name {service.name!r}; give each service a unique name")]
    return []


def service_name_not_reserved(platform: Platform, index: int, service: Service) -> list[Problem]:
    if service.name in RESERVED_CONSTRUCT_IDS or service.name.startswith(RESERVED_PREFIXES):
        return [(("services", index, "name"), f"{service.name!r} is a name the stacks use for something else; rename the service")]
    return []


def url_name_not_reserved(platform: Platform, index: int, service: Service) -> list[Problem]:
    if service.url_name in RESERVED_ENV_NAMES:
        return [
            (
                ("services", index, "url_name"),
                f"{service.url_name} is reserved by Cloud Run (its callers would get it as an env var); use e.g. {service.name.upper().replace('-', '_')}_URL",
            )
        ]
    return []


def url_name_not_an_operator_secret(platform: Platform, index: int, service: Service) -> list[Problem]:
    if service.url_name in platform.operator_secrets:
        return [
            (("services", index, "url_name"), f"{service.url_name!r} is an operator secret, and this project would take that secret over; use another name")
        ]
    return []


def secrets_declared(platform: Platform, index: int, service: Service) -> list[Problem]:
    """Each secret reference: a variable Cloud Run leaves to us, a secret operators declared."""
    problems: list[Problem] = []
    for env_name, secret in service.secrets.items():
        at = ("services", index, "secrets", env_name)
        if env_name in RESERVED_ENV_NAMES:
            problems.append((at, f"{env_name} is reserved by Cloud Run; use another variable name"))
        if secret not in platform.operator_secrets:
            problems.append((at, f"reads secret {secret!r}, which is not declared; add it to operator_secrets or fix the name"))
    return problems


def _not_a_data_bucket(platform: Platform, key: str) -> str:
    return f"{echo(key)} is not a data bucket; use one of data_buckets ({', '.join(platform.data_buckets) or 'none configured'})"


def bucket_access_to_configured_buckets(platform: Platform, index: int, service: Service) -> list[Problem]:
    return [(("services", index, "bucket_access", key), _not_a_data_bucket(platform, key)) for key in service.bucket_access if key not in platform.data_buckets]


def calls_listed_once(platform: Platform, index: int, service: Service) -> list[Problem]:
    return [(("services", index, "calls"), f"lists {called!r} more than once; keep one") for called in _duplicates(service.calls)]


def calls_reach_urls(platform: Platform, index: int, service: Service) -> list[Problem]:
    """Each called service exists and has a URL to hand over."""
    problems: list[Problem] = []
    names = [s.name for s in platform.services]
    for called in dict.fromkeys(service.calls):
        if called not in names:
            problems.append((("services", index, "calls"), f"calls unknown service {called!r}; use one of: {', '.join(names)}"))
        elif platform.service(called).url_name is None:
            problems.append((("services", index, "calls"), f"calls {called!r}, which has no url_name; give it one"))
    return problems


def env_groups_listed_once(platform: Platform, index: int, service: Service) -> list[Problem]:
    return [(("services", index, "env_groups"), f"lists {group!r} more than once; keep one") for group in _duplicates(service.env_groups)]


def env_groups_defined(platform: Platform, index: int, service: Service) -> list[Problem]:
    return [
        (("services", index, "env_groups"), f"unknown env group {echo(group)}; define it under env_groups")
        for group in service.env_groups
        if group not in platform.env_groups
    ]


def _plain_value_problems(platform: Platform, at: tuple, env_name: str, value: str, *, secret_fix: str, reserved_fix: str) -> list[Problem]:
    """A plain variable is no credential, not Cloud Run's, and a well-formed template."""
    problems: list[Problem] = []
    if env_name in platform.operator_secrets or CREDENTIAL_NAME.search(env_name):
        problems.append((at, f"looks like a credential and must not be a plain value; {secret_fix}"))
    if env_name in RESERVED_ENV_NAMES:
        problems.append((at, f"{env_name} is reserved by Cloud Run; {reserved_fix}"))
    template_problem = _template_problem(value)
    if template_problem:
        problems.append((at, template_problem))
    return problems


def env_values_plain(platform: Platform, index: int, service: Service) -> list[Problem]:
    return [
        problem
        for env_name, value in service.env.items()
        for problem in _plain_value_problems(
            platform,
            ("services", index, "env", env_name),
            env_name,
            value,
            secret_fix="move it to secrets: (a Secret Manager reference)",
            reserved_fix="remove it (set port: instead of PORT)",
        )
    ]


def _variable_sources(platform: Platform, service: Service) -> tuple[set[str], set[str], set[str | None]]:
    """The service's variable names: plain (env and groups), from secrets, from calls."""
    names = {s.name for s in platform.services}
    plain = set(service.env) | {k for g in service.env_groups for k in platform.env_groups.get(g, {})}
    return plain, set(service.secrets), {platform.service(c).url_name for c in service.calls if c in names}


def variables_set_once(platform: Platform, index: int, service: Service) -> list[Problem]:
    plain, from_secrets, from_calls = _variable_sources(platform, service)
    return [
        (("services", index), f"sets {clash} more than once (env, secrets, calls); keep one")
        for clash in sorted((plain & from_secrets) | (plain & from_calls) | (from_secrets & from_calls))
    ]


def variables_within_cloud_run_limit(platform: Platform, index: int, service: Service) -> list[Problem]:
    plain, from_secrets, from_calls = _variable_sources(platform, service)
    if len(plain | from_secrets | from_calls) > MAX_ENV_VARS:
        return [(("services", index), f"sets more than {MAX_ENV_VARS} environment variables, Cloud Run's limit; use fewer")]
    return []


def instances_in_order(platform: Platform, index: int, service: Service) -> list[Problem]:
    min_instances = platform.service_defaults.min_instances if service.min_instances is None else service.min_instances
    max_instances = service.max_instances or platform.service_defaults.max_instances
    if max_instances is not None and max_instances < min_instances:
        return [(("services", index, "max_instances"), f"{max_instances} is below min_instances {min_instances}; raise it")]
    return []


def probes_within_cloud_run_limits(platform: Platform, index: int, service: Service) -> list[Problem]:
    problems: list[Problem] = []
    for kind in ("startup_probe", "liveness_probe"):
        probe = getattr(service, kind)
        if probe and probe.timeout_seconds > probe.period_seconds:
            problems.append(
                (
                    ("services", index, kind, "timeout_seconds"),
                    f"{probe.timeout_seconds} is over period_seconds {probe.period_seconds} (Cloud Run refuses it); lower it",
                )
            )
    probe = service.startup_probe
    if probe and probe.failure_threshold * probe.period_seconds > STARTUP_PROBE_MAX_SECONDS:
        problems.append(
            (
                ("services", index, "startup_probe", "failure_threshold"),
                f"{probe.failure_threshold} x period_seconds {probe.period_seconds} is over Cloud Run's {STARTUP_PROBE_MAX_SECONDS} s "
                "for a startup probe; lower either",
            )
        )
    return problems


SERVICE_RULES = (
    service_name_unique,
    service_name_not_reserved,
    url_name_not_reserved,
    url_name_not_an_operator_secret,
    secrets_declared,
    bucket_access_to_configured_buckets,
    calls_listed_once,
    calls_reach_urls,
    env_groups_listed_once,
    env_groups_defined,
    env_values_plain,
    variables_set_once,
    variables_within_cloud_run_limit,
    instances_in_order,
    probes_within_cloud_run_limits,
)


# --- platform-wide ----------------------------------------------------------------


def env_group_values_plain(platform: Platform) -> list[Problem]:
    return [
        problem
        for group, values in platform.env_groups.items()
        for env_name, value in values.items()
        for problem in _plain_value_problems(
            platform,
            ("env_groups", group, env_name),
            env_name,
            value,
            secret_fix="use a service's secrets: instead",
            reserved_fix="remove it",
        )
    ]


def url_names_unique(platform: Platform) -> list[Problem]:
    url_names = [s.url_name for s in platform.services if s.url_name]
    return [
        (("services", index, "url_name"), f"{service.url_name!r} is used by more than one service; make it unique")
        for index, service in enumerate(platform.services)
        if service.url_name and url_names.count(service.url_name) > 1
    ]


def image_tag_variables_distinct(platform: Platform) -> list[Problem]:
    images_by_variable: dict[str, set[str]] = {}
    for service in platform.services:
        images_by_variable.setdefault(image_tag_variable_name(service.image), set()).add(service.image)
    return [
        (("services",), f"images {sorted(images)} share the tag variable {variable}; name the images apart by more than '.', '_' or '-'")
        for variable, images in images_by_variable.items()
        if len(images) > 1
    ]


def deployer_roles_narrow(platform: Platform) -> list[Problem]:
    return [
        (("deployer_project_roles",), f"{role} is far broader than deploying needs; list the specific roles instead")
        for role in platform.deployer_project_roles
        if role in FORBIDDEN_DEPLOYER_ROLES
    ]


def lists_without_duplicates(platform: Platform) -> list[Problem]:
    """Platform lists name each value once (an API also in its short form)."""
    problems: list[Problem] = []
    for field in ("apis", "deployer_project_roles", "deployer_permissions", "operator_secrets"):
        for value in _duplicates(getattr(platform, field)):
            problems.append(((field,), f"lists {value!r} more than once; keep one"))
    api_ids = [api.removesuffix(".googleapis.com") for api in platform.apis]
    for value in _duplicates(api_ids):
        if platform.apis.count(f"{value}.googleapis.com") < 2:
            problems.append((("apis",), f"lists {value!r} more than once; keep one"))
    return problems


def data_bucket_keys_apart(platform: Platform) -> list[Problem]:
    """A data bucket's key is a placeholder and a construct id: apart from the
    built-in placeholders, the stacks' own construct ids and the services."""
    problems: list[Problem] = []
    services = {s.name for s in platform.services}
    for key in platform.data_buckets:
        if key in BUILTIN_PLACEHOLDERS:
            problems.append((("data_buckets", key), f"{key!r} is a built-in placeholder ({', '.join(BUILTIN_PLACEHOLDERS)}); use another key"))
        elif key in RESERVED_CONSTRUCT_IDS or key.startswith(RESERVED_PREFIXES) or key in services:
            problems.append((("data_buckets", key), f"{key!r} is a name the stacks use for something else (or a service's); use another key"))
    return problems


def name_templates_valid(platform: Platform) -> list[Problem]:
    """The bucket and secret name templates: well-formed, {env} and {project} only."""
    problems: list[Problem] = []
    templates: dict[tuple[str | int, ...], str] = {("data_buckets", key, "name"): bucket.name for key, bucket in platform.data_buckets.items()}
    templates[("service_urls_secret",)] = platform.service_urls_secret
    for at, template in templates.items():
        try:
            unknown = placeholders(template) - NAME_PLACEHOLDERS
        except TemplateError as error:
            problems.append((at, str(error)))
            continue
        if unknown:
            problems.append((at, f"unknown placeholder(s) {sorted(unknown)}; only {{env}} and {{project}} are allowed"))
    return problems


# --- per environment ------------------------------------------------------------


def placeholders_defined(platform: Platform, env_name: str, environment: Environment, at: tuple[str | int, ...], values: dict[str, str]) -> list[Problem]:
    """Every placeholder of these values is built in, a data bucket's key or one of the environment's vars."""
    known = {*BUILTIN_PLACEHOLDERS, *platform.data_buckets, *environment.vars}
    problems: list[Problem] = []
    for name, value in values.items():
        missing = _unknown_placeholders(value, known)
        if missing:
            problems.append((at + (name,), f"uses {sorted(missing)}, unknown in environment {env_name!r}; define it under environments.{env_name}.vars"))
    return problems


def runtime_account_id_fits(index: int, service: Service, env_name: str) -> list[Problem]:
    account_id = runtime_account_id(service.name, env_name)
    if not ACCOUNT_ID.fullmatch(account_id):
        return [(("services", index, "name"), f"runtime service account id {account_id!r} would be longer than 30 characters; shorten the service name")]
    return []


def vars_apart_from_other_placeholders(platform: Platform, env_name: str, environment: Environment) -> list[Problem]:
    """A var named like a built-in placeholder or a data bucket would silently replace it."""
    return [
        (("environments", env_name, "vars", name), f"{name!r} is already a placeholder (built in or a data bucket's key); rename the var")
        for name in environment.vars
        if name in BUILTIN_PLACEHOLDERS or name in platform.data_buckets
    ]


def data_bucket_names_valid(platform: Platform, env_name: str) -> list[Problem]:
    problems: list[Problem] = []
    for key in platform.data_buckets:
        problem = bucket_name_problem(data_bucket_name(platform, env_name, key))
        if problem:
            problems.append((("data_buckets", key, "name"), f"in environment {env_name!r}: {problem}"))
    return problems


def bucket_names_unique(platform: Platform, *, with_data_buckets: bool) -> list[Problem]:
    """Bucket names are global: no two buckets, in any environments, may share one."""
    buckets: dict[str, list[tuple[tuple[str | int, ...], str]]] = {}
    for env_name, environment in platform.environments.items():
        buckets.setdefault(environment.state_bucket, []).append((("environments", env_name, "state_bucket"), f"state bucket of {env_name!r}"))
    for env_name in platform.environments if with_data_buckets else ():
        for key in platform.data_buckets:
            name = data_bucket_name(platform, env_name, key)
            if not bucket_name_problem(name):
                buckets.setdefault(name, []).append((("data_buckets", key, "name"), f"{key} bucket of {env_name!r}"))
    return [
        (at, f"{use} is {name!r}, also the {users[0][1]}; bucket names are global, make it unique") for name, users in buckets.items() for at, use in users[1:]
    ]


def created_secrets_valid(platform: Platform, env_name: str, environment: Environment) -> list[Problem]:
    """The secrets this project creates in an environment: valid ids, apart
    from the operators' secrets, and the only ones that can be adopted."""
    problems: list[Problem] = []
    urls_secret = service_urls_secret_id(platform, env_name)
    if not SECRET_ID.fullmatch(urls_secret):
        # Reported alone: what it would break (adopt_secrets) follows from it.
        return [
            (
                ("service_urls_secret",),
                f"in environment {env_name!r}: {echo(urls_secret)} is not a valid secret id; use letters, digits, '_' or '-' (at most 255)",
            )
        ]
    if urls_secret in platform.operator_secrets:
        problems.append((("service_urls_secret",), f"in environment {env_name!r}: {urls_secret!r} is an operator secret; use another name"))
    elif urls_secret in {s.url_name for s in platform.services}:
        problems.append((("service_urls_secret",), f"in environment {env_name!r}: {urls_secret!r} is also a url_name; use another name"))
    created = {s.url_name for s in platform.services if s.url_name} | {urls_secret}
    for secret in _duplicates(environment.adopt_secrets):
        problems.append((("environments", env_name, "adopt_secrets"), f"lists {secret!r} more than once; keep one"))
    for secret in dict.fromkeys(environment.adopt_secrets):
        if secret not in created:
            problems.append(
                (
                    ("environments", env_name, "adopt_secrets"),
                    f"{secret!r} is not a secret this project creates in {env_name!r}; use one of: {', '.join(sorted(created))}",
                )
            )
    for kind in _duplicates(environment.adopt):
        problems.append((("environments", env_name, "adopt"), f"lists {kind.value!r} more than once; keep one"))
    return problems


# --- CI identities ----------------------------------------------------------------


def repositories_apart(platform: Platform) -> list[Problem]:
    github = platform.github
    if github.app_repository.lower() == github.infra_repository.lower():
        return [
            (
                ("github", "infra_repository"),
                "is the application repository; the Workload Identity condition tells the caller (application) "
                "from the called workflows (infrastructure) by repository, so use this project's own repository",
            )
        ]
    return []


def repository_ids_apart(platform: Platform) -> list[Problem]:
    github = platform.github
    if github.app_repository_id is not None and github.app_repository_id == github.infra_repository_id:
        return [
            (
                ("github", "infra_repository_id"),
                f"{github.infra_repository_id} is also app_repository_id; two repositories never share an id, "
                "set each from `gh api repos/OWNER/REPO --jq .id` (make repository-ids)",
            )
        ]
    return []


def plan_workflows_listed_once(platform: Platform) -> list[Problem]:
    return [(("github", "plan_workflows"), f"lists {workflow!r} more than once; keep one") for workflow in _duplicates(platform.github.plan_workflows)]


def project_not_shared(platform: Platform, env_name: str, environment: Environment) -> list[Problem]:
    first = next(name for name, other in platform.environments.items() if other.project_id == environment.project_id)
    if first != env_name:
        return [
            (
                ("environments", env_name, "project_id"),
                f"{environment.project_id!r} is also the project of environment {first!r}; "
                "give each environment its own project (custom role, pool and secret ids are per project)",
            )
        ]
    return []


def project_number_not_shared(platform: Platform, env_name: str, environment: Environment) -> list[Problem]:
    """The number names the project in the provider's name and the services' URLs:
    one shared by two environments would send one to the other's project."""
    number = environment.project_number
    first = next((name for name, other in platform.environments.items() if number is not None and other.project_number == number), env_name)
    if first != env_name:
        return [
            (
                ("environments", env_name, "project_number"),
                f"{number!r} is also the project number of environment {first!r}; set this environment's own "
                f"(`gcloud projects describe {environment.project_id} --format='value(projectNumber)'`)",
            )
        ]
    return []


def ci_accounts_distinct(env_name: str, environment: Environment) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for field in CI_ACCOUNT_FIELDS:
        account_id = getattr(environment, field)
        if account_id in seen:
            problems.append((("environments", env_name, field), f"{account_id!r} is also the {seen[account_id]}; give each CI identity its own account"))
        seen.setdefault(account_id, field)
    return problems


def ci_accounts_apart_from_runtime_accounts(platform: Platform, env_name: str, environment: Environment) -> list[Problem]:
    """A service whose runtime account is a CI account would run as that CI identity."""
    runtime = {runtime_account_id(service.name, env_name): service.name for service in platform.services}
    return [
        (
            ("environments", env_name, field),
            f"{getattr(environment, field)!r} is also the runtime account of service {runtime[getattr(environment, field)]!r} "
            "(its name plus the environment's); rename the service or give the CI identity another account",
        )
        for field in CI_ACCOUNT_FIELDS
        if getattr(environment, field) in runtime
    ]


def workload_identity_within_google_limits(platform: Platform, env_name: str) -> list[Problem]:
    """The generated provider condition and mapping fit Google's length limits."""
    problems: list[Problem] = []
    condition = attribute_condition(platform, env_name)
    if len(condition) > MAX_CONDITION_LENGTH:
        problems.append(
            (
                ("github",),
                f"the Workload Identity condition of environment {env_name!r} would be {len(condition)} characters, "
                f"over Google's {MAX_CONDITION_LENGTH}; use fewer plan_workflows or shorter names",
            )
        )
    for key, expression in attribute_mapping(platform, env_name).items():
        if len(expression) > MAX_MAPPING_EXPRESSION_LENGTH:
            problems.append(
                (
                    ("github",),
                    f"the Workload Identity mapping {key} of environment {env_name!r} would be {len(expression)} "
                    f"characters, over Google's {MAX_MAPPING_EXPRESSION_LENGTH}; use fewer plan_workflows or shorter names",
                )
            )
    return problems


# --- service choices ----------------------------------------------------------------


def adopted_services_configured(platform: Platform) -> list[Problem]:
    problems: list[Problem] = []
    names = {s.name for s in platform.services}
    for env_name, environment in platform.environments.items():
        for field in SERVICE_LIST_FIELDS:
            for name in dict.fromkeys(getattr(environment, field)):
                if name not in names:
                    problems.append((("environments", env_name, field), f"{name!r} is not a configured service; use one of: {', '.join(sorted(names))}"))
    return problems


def service_lists_without_duplicates(platform: Platform) -> list[Problem]:
    return [
        (("environments", env_name, field), f"lists {name!r} more than once; keep one")
        for env_name, environment in platform.environments.items()
        for field in SERVICE_LIST_FIELDS
        for name in _duplicates(getattr(environment, field))
    ]


def adopted_buckets_configured(platform: Platform) -> list[Problem]:
    problems: list[Problem] = []
    for env_name, environment in platform.environments.items():
        at = ("environments", env_name, "adopt_buckets")
        problems += [(at, f"lists {key!r} more than once; keep one") for key in _duplicates(environment.adopt_buckets)]
        problems += [(at, _not_a_data_bucket(platform, key)) for key in dict.fromkeys(environment.adopt_buckets) if key not in platform.data_buckets]
    return problems


def environment_names_not_reserved(platform: Platform) -> list[Problem]:
    return [
        (("environments", env_name), f"{env_name!r} is a command of tools/ci_plan.py, which takes environment names; rename the environment")
        for env_name in platform.environments
        if env_name in RESERVED_ENVIRONMENT_NAMES
    ]


def deploy_branches_apart(platform: Platform) -> list[Problem]:
    """The deploy derives the environment from the caller's branch: one environment per branch."""
    first: dict[str, str] = {}
    problems: list[Problem] = []
    for env_name, environment in platform.environments.items():
        owner = first.setdefault(environment.deploy_branch, env_name)
        if owner != env_name:
            problems.append(
                (
                    ("environments", env_name, "deploy_branch"),
                    f"{environment.deploy_branch!r} is also the deploy branch of {owner!r}; a branch deploys one environment, give each its own",
                )
            )
    return problems


def invoker_check_off_only_when_public(platform: Platform) -> list[Problem]:
    return [
        (("services", index, "invoker_iam_disabled"), "would make a private service public; set public: true or remove invoker_iam_disabled")
        for index, service in enumerate(platform.services)
        if service.invoker_iam_disabled and not service.public
    ]
