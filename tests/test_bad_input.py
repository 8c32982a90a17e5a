"""Hostile input never crashes, hangs, floods or slips through (issue 14).

One regression test per class of the issue, then a property-based test that
mutates the default configuration and requires either one line per problem
naming the file and a field, or a configuration that keeps every promise the
stacks rely on."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from platform_config import DEFAULT_CONFIG, ConfigError, load_platform, parse_platform
from platform_config.echo import echo
from platform_config.gcp import RESERVED_ENV_NAMES
from platform_config.loader import MAX_CONFIG_BYTES, MAX_PROBLEMS, _SafeLoader
from platform_config.model import Platform
from platform_config.naming import (
    BUILTIN_PLACEHOLDERS,
    data_bucket_names,
    image_tag_variable_name,
    placeholder_values,
    runtime_account_id,
    service_urls_secret_id,
)
from platform_config.patterns import ACCOUNT_ID, BUCKET_KEY, SECRET_ID, SERVICE_NAME, bucket_name_problem
from platform_config.rules import RESERVED_CONSTRUCT_IDS, RESERVED_ENVIRONMENT_NAMES, RESERVED_PREFIXES
from platform_config.templates import TemplateError, placeholders, render

from .config_problems import SOURCE, only, problems, service
from .conftest import ROOT, TEST_ONLY_BUCKET

# A location is a field path, "(top level)", "(file)" or "line N, column M".
# A field path holds plain names, and quoted ones for anything else.
FIELD_PATH = r"""(?:[\w./\[\]-]|…|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")+"""
LINE = re.compile(rf"(?P<source>[^\n]+?): (?P<where>\(top level\)|\(file\)|line \d+, column \d+|{FIELD_PATH}): (?P<message>[^\n]+)")
MAX_LINE_CHARS = 1000


def file_problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_platform(path)
    return caught.value.problems


def write(tmp_path: Path, content: str | bytes, name: str = "platform.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def default_text() -> str:
    return (ROOT / "config" / "platform.yaml").read_text(encoding="utf-8")


def assert_well_formed(lines: list[str], source: str = SOURCE, config: dict | None = None) -> None:
    """One short line per problem, each naming the file and a place: with
    `config`, a field path must start at one of its keys or the model's."""
    assert lines, "a ConfigError without problems"
    assert len(lines) <= MAX_PROBLEMS + 1
    assert len(set(lines)) == len(lines), f"repeated lines: {lines}"
    for line in lines:
        assert "\n" not in line and len(line) <= MAX_LINE_CHARS, f"not one short line: {line[:300]!r}…"
        match = LINE.fullmatch(line)
        assert match and match["source"] == source, f"no file and place in {line!r}"
        if config is not None and not match["where"].startswith(("(", "line ")):
            top = re.split(r"[.\[]", match["where"], maxsplit=1)[0]
            assert top in set(Platform.model_fields) | {str(key) for key in config} or top.startswith(("'", '"')), line


# --- crashes and hangs --------------------------------------------------------


@pytest.mark.parametrize(
    "content, offset",
    [
        pytest.param(default_text().replace("mindmirror-69", "mindmirr\u00e9-69").encode("latin-1"), None, id="latin-1"),
        pytest.param(default_text().encode("utf-16"), 0, id="utf-16"),
        pytest.param(bytes(range(128, 256)) * 8, 0, id="random-bytes"),
    ],
)
def test_file_that_is_not_utf8_names_the_byte_offset(tmp_path, content, offset):
    path = write(tmp_path, content)
    [line] = file_problems(path)
    expected = offset if offset is not None else content.index(b"\xe9")
    assert line.startswith(f"{path}: (file): is not UTF-8: byte 0x") and f"at offset {expected} (line " in line
    assert "save the file as UTF-8" in line


@pytest.mark.parametrize(
    "text, what",
    [
        ("? [a, b]\n: 1\n", "not a sequence"),
        ("? {a: 1}\n: 1\n", "not a mapping"),
        ("8000: port\n", "is read as int 8000"),
        ("name: x\nON: yes\n", "is read as bool True"),
    ],
)
def test_keys_must_be_strings(tmp_path, text, what):
    path = write(tmp_path, text)
    [line] = file_problems(path)
    assert line.startswith(f"{path}: line ") and what in line


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: " + "[" * 500 + "]" * 500 + "\n", id="flow-500"),
        pytest.param("".join(f"{'  ' * level}k{level}:\n" for level in range(300)) + "  " * 300 + "x\n", id="block-300"),
        pytest.param(
            "a: &a [[[[[[[[[[x]]]]]]]]]]\n" + "".join(f"b{i}: &b{i} [[[[[[[[[[*{'a' if i == 0 else f'b{i - 1}'}]]]]]]]]]]\n" for i in range(5)), id="aliases"
        ),
    ],
)
def test_deep_nesting_is_refused(tmp_path, text):
    path = write(tmp_path, text)
    [line] = file_problems(path)
    assert "nested deeper than 20 levels" in line


def test_deeply_nested_data_is_one_line_too(config_copy):
    deep: object = "x"
    for _ in range(900):
        deep = [deep]
    config_copy["services"][0]["env"]["DEEP"] = deep
    config_copy["environments"]["staging"]["vars"] = {"x": deep}
    assert_well_formed(problems(config_copy))


def test_integer_of_thousands_of_digits(tmp_path, config_copy):
    path = write(tmp_path, default_text().replace("port: 4000", "port: " + "9" * 5000))
    [line] = file_problems(path)
    assert line.startswith(f"{path}: line ") and "cannot read '9999" in line and len(line) < 400
    service(config_copy, "gateway")["port"] = 10**5000
    line = only(problems(config_copy), "services[gateway].port", "less than or equal to 65535")
    assert len(line) < 300


def test_impossible_date_is_one_line(tmp_path):
    path = write(tmp_path, "name: 2024-13-45\n")
    [line] = file_problems(path)
    assert line.startswith(f"{path}: line 1, column 7: invalid YAML: cannot read '2024-13-45'")


@pytest.mark.parametrize(
    "text", ["name: !!timestamp abc", "name: !!set [a]", "name: !!bool maybe", "name: !!map [a]", "a: !!int ''", "a: !custom x", "a: !!python/name:os.system"]
)
def test_explicit_tags_are_refused(tmp_path, text):
    path = write(tmp_path, text + "\n")
    [line] = file_problems(path)
    assert line.startswith(f"{path}: line 1, column ") and "explicit tag" in line and "is not supported; remove it" in line


def test_string_tag_is_allowed(tmp_path):
    name = load_platform(DEFAULT_CONFIG).name
    platform = load_platform(write(tmp_path, default_text().replace(f"name: {name}\n", f"name: !!str {name}\n", 1)))
    assert platform.name == name


FORMAT_SPECS = [
    "{env:d}",
    "{env!x}",
    "{env!r}",
    "{env:{project}}",
    "{env:>99999999999999999999}",
    "{env:>100000}",
    "{0}",
    "{}",
    "{env.real}",
    "{env[0]}",
    "{env",
    "env}",
]


@pytest.mark.parametrize("spec", FORMAT_SPECS)
@pytest.mark.parametrize(
    "where, place",
    [
        ("data bucket name", f"data_buckets.{TEST_ONLY_BUCKET}.name"),
        ("service_urls_secret", "service_urls_secret"),
        ("service env", "services[meals-service].env.OFF_USER_AGENT"),
        ("env group", "env_groups.shared.LOG_LEVEL"),
    ],
)
def test_format_specs_are_refused_once_where_written(config_copy, spec, where, place):
    value = f"x-{spec}-y"
    if where == "service env":
        service(config_copy, "meals-service")["env"]["OFF_USER_AGENT"] = value
    elif where == "env group":
        config_copy["env_groups"]["shared"]["LOG_LEVEL"] = value
    elif where == "data bucket name":
        config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": value}
    else:
        config_copy[where] = value
    lines = problems(config_copy)
    only(lines, place, "is not a {name} placeholder", "write {{ or }} for a literal brace")
    assert_well_formed(lines)


def test_templates_render_names_only_in_one_pass():
    assert placeholders("a-{env}-{{literal}}-{project}") == {"env", "project"}
    assert render("a-{env}-{{literal}}", {"env": "{project}"}) == "a-{project}-{literal}"
    for spec in FORMAT_SPECS:
        with pytest.raises(TemplateError):
            render(spec, {"env": "staging", "project": "p", "0": "zero"})
    with pytest.raises(KeyError):
        render("{nope}", {})


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_config_that_is_not_a_regular_file_is_refused_without_hanging(tmp_path, kind):
    if kind == "device":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "platform.yaml"
        os.mkfifo(path)
    else:
        path = tmp_path
    # In a child process with a timeout: a hang must fail the test, not the suite.
    env = {**os.environ, "PLATFORM_CONFIG": str(path), "CDKTF_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert (
        result.stderr == f"error: {path}: (file): is not a regular file (a directory, device or pipe); set PLATFORM_CONFIG to an existing configuration file\n"
    )
    assert not (tmp_path / "out").exists()


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = write(tmp_path, default_text() + "#" * MAX_CONFIG_BYTES)
    [line] = file_problems(path)
    assert line == f"{path}: (file): is {path.stat().st_size} bytes, over the limit of {MAX_CONFIG_BYTES}; is it the right file?"


def test_missing_file(tmp_path):
    [line] = file_problems(tmp_path / "nope.yaml")
    assert (
        line
        == f"{tmp_path / 'nope.yaml'}: (file): cannot read configuration (No such file or directory); set PLATFORM_CONFIG to an existing configuration file"
    )


def test_duplicate_api_is_refused_before_synthesis(config_copy):
    config_copy["apis"].append("run.googleapis.com")
    only(problems(config_copy), "apis", "'run.googleapis.com' more than once")


@pytest.mark.parametrize("field", ["deployer_project_roles", "deployer_permissions", "operator_secrets"])
def test_duplicate_list_entries_are_refused(config_copy, field):
    config_copy[field].append(config_copy[field][0])
    only(problems(config_copy), field, "more than once; keep one")


@pytest.mark.parametrize("name", [n for n in sorted(RESERVED_CONSTRUCT_IDS) + [p + "mesh" for p in RESERVED_PREFIXES] if SERVICE_NAME.fullmatch(n)])
def test_service_names_that_clash_with_app_stack_constructs(config_copy, name):
    service(config_copy, "gateway")["name"] = name
    # A long reserved name is also too long for a runtime account id: that is another line.
    clashes = [line for line in problems(config_copy) if "the stacks use" in line]
    only(clashes, f"services[{name}].name", "rename the service")


def test_reserved_construct_ids_are_the_stacks_other_construct_ids(stacks, platform):
    """The list in the rules follows the stacks: every top-level construct of
    an app or bootstrap stack that is neither a service nor a data bucket
    (resources, data sources, outputs, variables, the provider, the backend)
    could clash with a service name or a data bucket key."""
    for stack in stacks.values():
        top_level = {
            body["//"]["metadata"]["path"].split("/")[1]
            for blocks in (stack.get("resource", {}), stack.get("data", {}))
            for items in blocks.values()
            for body in items.values()
        }
        # Outputs, variables and providers are named by their construct ids; cdktf names every backend "backend".
        top_level |= {*stack.get("output", {}), *stack.get("variable", {}), *stack["provider"], "backend"}
        others = top_level - {s.name for s in platform.services} - set(platform.data_buckets)
        for construct_id in others:
            if SERVICE_NAME.fullmatch(construct_id) or BUCKET_KEY.fullmatch(construct_id):
                assert construct_id in RESERVED_CONSTRUCT_IDS or construct_id.startswith(RESERVED_PREFIXES), construct_id


@pytest.mark.parametrize(
    "key", [k for k in sorted(RESERVED_CONSTRUCT_IDS) + [p + "x" for p in RESERVED_PREFIXES] if BUCKET_KEY.fullmatch(k)] + ["a_service", *BUILTIN_PLACEHOLDERS]
)
def test_data_bucket_keys_that_clash_are_refused(config_copy, key):
    """A key is a construct id of the bootstrap stack and a placeholder."""
    if key == "a_service":
        key = service(config_copy, "gateway")["name"] = "testonly"
    config_copy.setdefault("data_buckets", {})[key] = {"name": f"{key}-{{project}}-{{env}}"}
    only(problems(config_copy), f"data_buckets.{key}", "use another key")


@pytest.mark.parametrize("name", sorted(RESERVED_ENVIRONMENT_NAMES))
def test_environment_names_that_are_ci_plan_commands(config_copy, name):
    environments = config_copy["environments"]
    environments[name] = environments.pop(next(iter(environments)))
    only(problems(config_copy), f"environments.{name}", "command of tools/ci_plan.py")


def test_images_sharing_a_tag_variable_are_refused(config_copy):
    service(config_copy, "meals-service")["image"] = "agent-service"
    assert image_tag_variable_name("agent-service") == image_tag_variable_name("agent_service")
    only(problems(config_copy), "services", "share the tag variable image_tag_agent_service")


# --- bad configurations that passed -------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ("environments", "production", "project_id"),
        ("environments", "production", "state_bucket"),
        ("environments", "production", "region"),
        ("environments", "production", "deploy_branch"),
        ("environments", "production", "deployer_account_id"),
        ("environments", "production", "registry_repository"),
        ("operator_secrets", 0),
        ("apis", 0),
        ("name",),
        ("services", "meals-service", "url_name"),
        ("services", "meals-service", "image"),
        ("services", "meals-service", "memory"),
    ],
)
def test_trailing_newline_is_refused(config_copy, path):
    node = config_copy
    for key in path[:-1]:
        node = service(config_copy, key) if node is config_copy["services"] else node[key]
    node[path[-1]] = str(node.get(path[-1], "512Mi") if isinstance(node, dict) else node[path[-1]]) + "\n"
    lines = problems(config_copy)
    assert_well_formed(lines)
    assert any("\\n" in line for line in lines), lines


def test_trailing_newline_in_a_service_name_is_reported_there(config_copy):
    service(config_copy, "meals-service")["name"] = "meals-service\n"
    assert problems(config_copy) == [
        f"{SOURCE}: services['meals-service\\n'].name: 'meals-service\\n' is not valid: use lowercase letters, digits and hyphens, starting with a letter"
    ]


@pytest.mark.parametrize("value", [True, False, 8000.0, "8000"])
def test_no_coercion_to_integers(config_copy, value):
    service(config_copy, "habits-service")["port"] = value
    only(problems(config_copy), "services[habits-service].port", "valid integer", repr(value))


def test_no_coercion_to_booleans(config_copy):
    service(config_copy, "habits-service")["public"] = 1
    only(problems(config_copy), "services[habits-service].public", "valid boolean")


def test_probe_limits(config_copy):
    probe = service(config_copy, "practices-service")["startup_probe"]
    probe["failure_threshold"] = 10**6
    only(problems(config_copy), "services[practices-service].startup_probe.failure_threshold", "less than or equal to 240")
    probe["failure_threshold"] = 30  # x period_seconds 10 = 300 s
    only(problems(config_copy), "services[practices-service].startup_probe.failure_threshold", "over Cloud Run's 240 s")
    probe["failure_threshold"], probe["timeout_seconds"] = 3, 11
    only(problems(config_copy), "services[practices-service].startup_probe.timeout_seconds", "over period_seconds 10")


@pytest.mark.parametrize("memory", ["64Mi", "33Gi", "99999999999999Gi"])
def test_memory_within_cloud_run_limits(config_copy, memory):
    config_copy["service_defaults"]["memory"] = memory
    only(problems(config_copy), "service_defaults.memory", memory)


def test_url_name_may_not_be_an_operator_secret(config_copy):
    service(config_copy, "meals-service")["url_name"] = "OPENAI_API_KEY"
    lines = problems(config_copy)
    only(lines, "services[meals-service].url_name", "operator secret", "take that secret over")


@pytest.mark.parametrize("name", sorted(RESERVED_ENV_NAMES))
def test_reserved_env_names_via_url_name(config_copy, name):
    service(config_copy, "meals-service")["url_name"] = name
    only(problems(config_copy), "services[meals-service].url_name", "reserved by Cloud Run")


@pytest.mark.parametrize("name", sorted(RESERVED_ENV_NAMES))
def test_reserved_env_names_via_secrets_env_and_groups(config_copy, name):
    service(config_copy, "meals-service")["secrets"][name] = "DATABASE_URL"
    service(config_copy, "habits-service")["env"][name] = "1"
    config_copy["env_groups"]["db_pool"][name] = "1"
    lines = problems(config_copy)
    only(lines, f"services[meals-service].secrets.{name}", "reserved by Cloud Run")
    only(lines, f"services[habits-service].env.{name}", "reserved by Cloud Run")
    only(lines, f"env_groups.db_pool.{name}", "reserved by Cloud Run")


@pytest.mark.parametrize("template", ["service urls-{env}", "service/urls-{env}", "urls-{env}\nx", "é-{env}"])
def test_service_urls_secret_must_be_a_secret_id_after_substitution(config_copy, template):
    config_copy["service_urls_secret"] = template
    lines = problems(config_copy)
    assert_well_formed(lines)
    assert all(line.startswith(f"{SOURCE}: service_urls_secret: ") for line in lines)
    assert any("not a valid secret id" in line or "not valid" in line for line in lines), lines


def test_service_urls_secret_apart_from_the_other_secrets(config_copy):
    config_copy["service_urls_secret"] = "DATABASE_URL"
    assert len([line for line in problems(config_copy) if "is an operator secret" in line]) == len(config_copy["environments"])
    config_copy["service_urls_secret"] = "MEALS_SERVICE_URL"
    assert len([line for line in problems(config_copy) if "also a url_name" in line]) == len(config_copy["environments"])


def test_same_state_bucket_in_two_environments(config_copy):
    config_copy["environments"]["production"]["state_bucket"] = config_copy["environments"]["staging"]["state_bucket"]
    only(problems(config_copy), "environments.production.state_bucket", "also the state bucket of 'staging'", "global")


def test_same_data_bucket_in_two_environments(config_copy):
    config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": "one-test-only-bucket"}
    first, *others = config_copy["environments"]
    clashes = [line for line in problems(config_copy) if f"also the {TEST_ONLY_BUCKET} bucket of '{first}'" in line]
    assert len(clashes) == len(others) and all(line.startswith(f"{SOURCE}: data_buckets.{TEST_ONLY_BUCKET}.name: ") for line in clashes)


def test_two_data_buckets_of_one_name(config_copy):
    buckets = config_copy.setdefault("data_buckets", {})
    buckets[TEST_ONLY_BUCKET] = buckets["test_only_other"] = {"name": "test-only-{project}-{env}"}
    clashes = [line for line in problems(config_copy) if f"also the {TEST_ONLY_BUCKET} bucket of" in line]
    assert len(clashes) == len(config_copy["environments"]) and all(line.startswith(f"{SOURCE}: data_buckets.test_only_other.name: ") for line in clashes)


def test_data_bucket_equal_to_a_state_bucket(config_copy):
    config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": "{project}-state"}
    for env in config_copy["environments"].values():
        env["state_bucket"] = f"{env['project_id']}-state"
    clashes = [line for line in problems(config_copy) if "also the state bucket of" in line]
    assert len(clashes) == len(config_copy["environments"])


def test_data_bucket_template_takes_env_and_project_only(config_copy):
    config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": "test-only-{region}"}
    only(problems(config_copy), f"data_buckets.{TEST_ONLY_BUCKET}.name", "unknown placeholder(s) ['region']")


def test_access_to_an_unknown_data_bucket(config_copy):
    service(config_copy, "gateway")["bucket_access"] = {TEST_ONLY_BUCKET: "objectViewer"}
    only(problems(config_copy), f"services[gateway].bucket_access.{TEST_ONLY_BUCKET}", "not a data bucket", "data_buckets")


@pytest.mark.parametrize("access", ["admin", "roles/storage.admin", "legacyBucketOwner"])
def test_bucket_access_is_read_or_read_write_only(config_copy, access):
    config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": "test-only-{project}-{env}"}
    service(config_copy, "gateway")["bucket_access"] = {TEST_ONLY_BUCKET: access}
    only(problems(config_copy), f"services[gateway].bucket_access.{TEST_ONLY_BUCKET}", "objectViewer")


def test_adopted_bucket_must_be_configured(config_copy):
    env_name = next(iter(config_copy["environments"]))
    config_copy["environments"][env_name]["adopt_buckets"] = [TEST_ONLY_BUCKET, TEST_ONLY_BUCKET]
    at = f"{SOURCE}: environments.{env_name}.adopt_buckets: "
    lines = sorted(line.removeprefix(at) for line in problems(config_copy) if line.startswith(at))
    assert len(lines) == 2 and f"{TEST_ONLY_BUCKET!r} is not a data bucket" in lines[0] and "more than once" in lines[1], lines


def test_env_value_may_name_a_data_bucket(config_copy):
    config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": "test-only-{project}-{env}"}
    service(config_copy, "gateway")["env"]["TEST_ONLY_BUCKET"] = f"{{{TEST_ONLY_BUCKET}}}"
    platform = parse_platform(config_copy, source=SOURCE)
    for env_name, environment in platform.environments.items():
        assert render(f"{{{TEST_ONLY_BUCKET}}}", placeholder_values(platform, env_name)) == f"test-only-{environment.project_id}-{env_name}"


@pytest.mark.parametrize("name", [TEST_ONLY_BUCKET, *BUILTIN_PLACEHOLDERS])
def test_vars_do_not_replace_other_placeholders(config_copy, name):
    config_copy.setdefault("data_buckets", {})[TEST_ONLY_BUCKET] = {"name": "test-only-{project}-{env}"}
    env_name = next(iter(config_copy["environments"]))
    config_copy["environments"][env_name].setdefault("vars", {})[name] = "x"
    only(problems(config_copy), f"environments.{env_name}.vars.{name}", "already a placeholder")


def test_two_environments_deploy_from_one_branch(config_copy):
    environments = config_copy["environments"]
    if len(environments) < 2:
        pytest.skip("one environment configured")
    (_, first), (second_name, second), *_ = environments.items()
    second["deploy_branch"] = first["deploy_branch"]
    only(problems(config_copy), f"environments.{second_name}.deploy_branch", "also the deploy branch of", "give each its own")


def test_adopted_secret_must_be_one_this_project_creates(config_copy):
    config_copy["environments"]["staging"]["adopt_secrets"].append("OPENAI_API_KEY")
    only(problems(config_copy), "environments.staging.adopt_secrets", "'OPENAI_API_KEY' is not a secret this project creates")


@pytest.mark.parametrize("path", ["/abs/Dockerfile", "../outside/Dockerfile", "a b/Dockerfile", "x\n"])
def test_build_paths_stay_inside_the_repository(config_copy, path):
    service(config_copy, "meals-service")["build"]["dockerfile"] = path
    only(problems(config_copy), "services[meals-service].build.dockerfile", "relative path")


@pytest.mark.parametrize("branch", ["main' || true || '", "a..b", "-x", "x.lock", "main\n", "a b"])
def test_deploy_branch_is_a_branch_name(config_copy, branch):
    config_copy["environments"]["production"]["deploy_branch"] = branch
    only(problems(config_copy), "environments.production.deploy_branch", "git branch name")


# --- configurations that cannot work (issue 23) -----------------------------------

CI_ACCOUNT_FIELDS = ("deployer_account_id", "planner_account_id", "builder_account_id")


@pytest.mark.parametrize("field", CI_ACCOUNT_FIELDS)
def test_ci_account_may_not_be_a_runtime_account(config_copy, field):
    env_name, environment = next(iter(config_copy["environments"].items()))
    environment[field] = runtime_account_id("gateway", env_name)
    only(problems(config_copy), f"environments.{env_name}.{field}", "runtime account of service 'gateway'", "rename the service")


def test_service_named_like_a_ci_account_is_refused(config_copy):
    """A service named after the deployer's account id minus the environment runs as the deployer."""
    env_name, environment = next(iter(config_copy["environments"].items()))
    name = environment["deployer_account_id"].removesuffix(f"-{env_name}")
    assert runtime_account_id(name, env_name) == environment["deployer_account_id"], "the default deployer id ends in its environment's name"
    service(config_copy, "gateway")["name"] = name
    only(problems(config_copy), f"environments.{env_name}.deployer_account_id", f"runtime account of service {name!r}")


def test_project_number_in_two_environments(config_copy):
    (first_name, first), (second_name, second), *_ = config_copy["environments"].items()
    first["project_number"] = second["project_number"] = "123456789012"
    only(problems(config_copy), f"environments.{second_name}.project_number", f"also the project number of environment {first_name!r}", "gcloud projects")


def test_deploy_branch_as_a_full_ref_is_refused_with_the_branch(config_copy):
    config_copy["environments"]["production"]["deploy_branch"] = "refs/heads/main"
    only(problems(config_copy), "environments.production.deploy_branch", "is a full ref", "branch name alone, e.g. 'main'")


def test_repository_ids_must_differ(config_copy):
    config_copy["github"].update(app_repository_id=118_000_001, infra_repository_id=118_000_001)
    only(problems(config_copy), "github.infra_repository_id", "also app_repository_id", "gh api repos/OWNER/REPO")


@pytest.mark.parametrize("field", ["app_repository_id", "infra_repository_id"])
def test_repository_id_within_githubs_64_bits(config_copy, field):
    config_copy["github"][field] = 2**63
    only(problems(config_copy), f"github.{field}", "less than or equal to 9223372036854775807")
    config_copy["github"][field] = 2**63 - 1
    parse_platform(config_copy)


def test_duplicate_plan_workflow_is_refused(config_copy):
    workflows = config_copy["github"]["plan_workflows"]
    workflows.append(workflows[0])
    only(problems(config_copy), "github.plan_workflows", f"{workflows[0]!r} more than once; keep one")


@pytest.mark.parametrize("field", ["adopt_services", "adopt_runtime_accounts", "first_apply_services"])
def test_duplicate_service_in_an_environment_list_is_refused(config_copy, field):
    env_name = next(iter(config_copy["environments"]))
    config_copy["environments"][env_name][field] = ["gateway", "gateway"]
    only(problems(config_copy), f"environments.{env_name}.{field}", "'gateway' more than once; keep one")


@pytest.mark.parametrize("ref", ["refs/heads/main/", "refs/heads/a..b", "refs/heads/", "refs/heads/x.lock", "refs/heads/-x"])
def test_infra_ref_is_a_ref_git_accepts(config_copy, ref):
    config_copy["github"]["infra_ref"] = ref
    only(problems(config_copy), "github.infra_ref", repr(ref), "refs/heads/main", "no '..'")


@pytest.mark.parametrize(
    "repository",
    ["-Peleke/MindMirror", "Peleke-/MindMirror", "Pe--leke/MindMirror", "Peleke/-x", "Peleke/MindMirror.git", "Peleke/..", "Peleke/a..b", "Peleke/."],
)
@pytest.mark.parametrize("field", ["app_repository", "infra_repository"])
def test_repository_names_github_refuses(config_copy, field, repository):
    config_copy["github"][field] = repository
    only(problems(config_copy), f"github.{field}", repr(repository), "OWNER/REPOSITORY", ".git suffix")


@pytest.mark.parametrize("name", ["x" * 5000, "platform.yaml\n", "pla'tform.yaml", " platform.yaml"])
def test_config_path_is_quoted_short_and_on_one_line(tmp_path, monkeypatch, name):
    """The path of PLATFORM_CONFIG is echoed like any other value: a path
    that is not plain is quoted, escaped and shortened, on every line."""
    # Relative to the working directory: the name is the whole path, as short as it is.
    monkeypatch.chdir(tmp_path)
    if len(name) < 255:
        (tmp_path / name).write_text("name: BAD\n", encoding="utf-8")
    monkeypatch.setenv("PLATFORM_CONFIG", name)
    with pytest.raises(ConfigError) as caught:
        load_platform()
    source = echo(name)
    assert source.startswith(("'", '"')) and ("\\n" in source) == name.endswith("\n")
    for line in caught.value.problems:
        assert "\n" not in line and len(line) < 500, line
        assert line.startswith(f"{source}: "), line
    assert_well_formed(caught.value.problems, source)


def test_plain_config_path_is_written_as_is(tmp_path):
    path = write(tmp_path, "name: BAD\n")
    assert all(line.startswith(f"{path}: ") for line in file_problems(path))


# --- messages that misled or flooded --------------------------------------------


def test_alias_bomb_is_one_short_line(tmp_path):
    levels = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))
    path = write(tmp_path, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + levels + "name: *l8\n")
    [line] = file_problems(path)
    assert "more than 100000 values once aliases are expanded" in line and len(line) < 300


def test_recursive_alias_is_refused(tmp_path):
    [line] = file_problems(write(tmp_path, "a: &a [x, *a]\n"))
    assert "refers to the value that contains it" in line


def test_huge_value_is_echoed_short(config_copy):
    config_copy["environments"]["staging"]["region"] = "x" * 10_000_000
    line = only(problems(config_copy), "environments.staging.region", "(10000000 characters)")
    assert len(line) < 400


def test_huge_key_is_echoed_short(config_copy):
    service(config_copy, "meals-service")["env"]["K" * 100_000 + "\n"] = "v"
    lines = problems(config_copy)
    assert_well_formed(lines)


def test_flood_of_problems_is_cut_short(config_copy):
    config_copy["apis"] = [f"bad api {i}" for i in range(1000)]
    lines = problems(config_copy)
    assert len(lines) == MAX_PROBLEMS + 1
    assert lines[-1] == f"{SOURCE}: (top level): {1000 - MAX_PROBLEMS} more problems not shown; fix the ones above first"


@pytest.mark.parametrize("project_id", ["mindmirror-prod\n", "google-mindmirror", "mindmirror-ssl"])
def test_bad_project_id_is_reported_as_such(config_copy, project_id):
    config_copy["environments"]["production"]["project_id"] = project_id
    lines = problems(config_copy)
    assert len(lines) == 1
    only(lines, "environments.production.project_id")


def test_bad_service_name_is_not_blamed_on_its_callers(config_copy):
    service(config_copy, "users-service")["name"] = "Users"
    lines = problems(config_copy)
    assert lines == [f"{SOURCE}: services[Users].name: 'Users' is not valid: use lowercase letters, digits and hyphens, starting with a letter"]


def test_merge_keys_are_supported(tmp_path, raw_config):
    text = default_text()
    text = text.replace("service_defaults:\n", "service_defaults: &defaults\n", 1)
    text = text.replace("  - name: agent-service\n", "  - name: agent-service\n    <<: {public: true}\n", 1)
    platform = load_platform(write(tmp_path, text))
    assert platform == parse_platform(raw_config)


def test_merged_keys_are_overridden_by_explicit_ones_and_duplicates_still_refused(tmp_path):
    text = "probe: &probe {path: /health, port: 8000}\nother:\n  <<: *probe\n  port: 9000\n"
    assert yaml.load(text, Loader=_SafeLoader)["other"] == {"path": "/health", "port": 9000}
    [line] = file_problems(write(tmp_path, text + "  port: 9001\n"))
    assert "duplicate key 'port'" in line


# --- tools ----------------------------------------------------------------------


def run_tool(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)


def stack_tree(root: Path, content: str) -> Path:
    path = root / "stacks" / "app-staging" / "cdk.tf.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    return root


@pytest.mark.parametrize(
    "make_tree, message",
    [
        (lambda tmp: tmp / "missing", "is not a directory"),
        (lambda tmp: tmp, "holds no synthesized stack"),
        (lambda tmp: stack_tree(tmp, "{not json"), "is not valid JSON"),
        (lambda tmp: stack_tree(tmp, "[1, 2]"), "is not a cdktf stack"),
        (lambda tmp: stack_tree(tmp, json.dumps({"resource": {"google_storage_bucket": ["odd"]}})), "is not a cdktf stack"),
        (lambda tmp: stack_tree(tmp, "[" * 100_000 + "]" * 100_000), "is not valid JSON"),
    ],
)
def test_synth_diff_refuses_what_it_cannot_read(tmp_path, synth_dir, make_tree, message):
    tree = make_tree(tmp_path)
    for args in ((str(tree), str(synth_dir)), (str(synth_dir), str(tree), "--fail-on-destructive")):
        result = run_tool("-m", "tools.synth_diff", *args)
        assert result.returncode == 2 and result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("error: synth diff: ") and message in line


@pytest.mark.parametrize(
    "command",
    [
        ("-m", "tools.synth_diff"),
        ("-m", "tools.synth_diff", "one"),
        ("-m", "tools.synth_diff", "a", "b", "--bogus"),
        ("tools/security_gate.py", "--bogus"),
        ("tools/security_gate.py", "a", "b"),
    ],
)
def test_tools_refuse_bad_arguments_in_one_line(command):
    result = run_tool(*command)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and line.endswith("; see --help")


def test_ci_plan_reports_configuration_errors_like_main(tmp_path, config_copy):
    config_copy["environments"]["staging"]["region"] = "mars-north9"
    config_copy["apis"].append("run.googleapis.com")
    path = write(tmp_path, yaml.safe_dump(config_copy))
    result = run_tool("-m", "tools.ci_plan", "staging", "identities", env={**os.environ, "PLATFORM_CONFIG": str(path)})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {path}: environments.staging.region: 'mars-north9' is not a Google Cloud region; use one of e.g. us-east4, us-central1, europe-west1 (see `gcloud run regions list`)"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "usage: see `python -m tools.ci_plan --help`"),
        (("no-such-env", "identities"), "environments: "),
        (("staging", "deploy"), "unknown command 'deploy'"),
        (("staging", "tfvars", "{nope"), "TAGS_JSON is not JSON"),
        (("staging", "deployed-tfvars", "/nonexistent.json"), "cannot read OUTPUTS_JSON /nonexistent.json"),
        (("staging", "deployed-tfvars", "NOT_JSON"), "is not JSON"),
        (("prepare", "DEPLOY_REF", "/nonexistent", "LIST_TEXT"), "must be a JSON object of image -> tag"),
        (("prepare", "DEPLOY_REF", "/nonexistent"), "cannot read the application's version and commit"),
    ],
)
def test_ci_plan_refuses_bad_arguments_and_files_in_one_line(tmp_path, platform, args, message):
    deploy_ref = f"refs/heads/{next(iter(platform.environments.values())).deploy_branch}"
    files = {"NOT_JSON": write(tmp_path, "{nope", "a.json"), "LIST_TEXT": "[1]", "DEPLOY_REF": deploy_ref}
    result = run_tool("-m", "tools.ci_plan", *(str(files.get(arg, arg)) for arg in args))
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ci_plan: ") and message in line


def test_security_gate_refuses_unreadable_input(tmp_path):
    for tree, message in ((tmp_path / "missing", "no synthesized stack"), (stack_tree(tmp_path / "bad", "{nope"), "is not valid JSON")):
        result = run_tool("tools/security_gate.py", str(tree), "--checkov", "/nonexistent/checkov")
        assert result.returncode == 2
        [line] = result.stderr.splitlines()
        assert line.startswith("error: security gate: ") and message in line
    result = run_tool("tools/security_gate.py", str(stack_tree(tmp_path / "good", "{}")), "--checkov", "/nonexistent/checkov")
    assert result.returncode == 2 and result.stderr.startswith("error: security gate: cannot run checkov '/nonexistent/checkov'")


def test_bench_refuses_a_bad_run_count():
    result = run_tool("bench/run.py", env={**os.environ, "BENCH_RUNS": "five"})
    assert result.returncode == 2 and result.stderr == "error: bench: BENCH_RUNS='five' is not a positive whole number; e.g. BENCH_RUNS=5\n"


# --- property: any mutation of the default configuration -----------------------

WEIRD_STRINGS = [
    "",
    " ",
    "\n",
    "x\n",
    "\t",
    "{",
    "}",
    "{{",
    "}}",
    "{env}",
    "{env:d}",
    "{env!r}",
    "{env:>100000}",
    "{0}",
    "{}",
    "{env.x}",
    "{zone}",
    "PORT",
    "K_SERVICE",
    "google",
    "goog-x",
    "a" * 300,
    "é",
    "\x00",
    "\u2028",
    "x" * 70_000,
    "true",
    "null",
    "1e3",
    "DATABASE_URL",
    "OPENAI_API_KEY",
    "run.googleapis.com",
    "mindmirror-tofu-state",
    "meals-service",
    "../x",
    "/abs",
]
leaf_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(5000).map(lambda digits: 10**digits),  # st.just(10**5000) would break hypothesis' repr
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WEIRD_STRINGS),
    st.text(max_size=40),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_{}:!.\n", max_size=40),
)
any_values = st.recursive(
    leaf_values,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), children, max_size=3)),
    max_leaves=8,
)


def locations(node, path=()):
    """Every (path) inside the configuration tree, the root excluded."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield path + (key,)
        yield from locations(child, path + (key,))


def at(config, path):
    for key in path:
        config = config[key]
    return config


@st.composite
def mutated_configs(draw, raw):
    config = copy.deepcopy(raw)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(locations(config))
        path = draw(st.sampled_from(paths))
        parent, key = at(config, path[:-1]), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "add_key", "rename_key", "nest", "string"]))
        if action == "replace":
            parent[key] = draw(any_values)
        elif action == "string":
            value = parent[key]
            parent[key] = (value if isinstance(value, str) else "x") + draw(st.sampled_from(WEIRD_STRINGS[:20]))
        elif action == "delete":
            del parent[key]
        elif action == "duplicate":
            if isinstance(parent, list):
                parent.append(copy.deepcopy(parent[key]))
            else:
                parent[f"{key}_copy"] = copy.deepcopy(parent[key])
        elif action == "add_key" and isinstance(parent[key], dict):
            parent[key][draw(st.one_of(st.sampled_from(WEIRD_STRINGS), st.integers()))] = draw(any_values)
        elif action == "rename_key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(WEIRD_STRINGS))] = parent.pop(key)
        elif action == "nest":
            value = parent[key]
            for _ in range(draw(st.integers(min_value=1, max_value=60))):
                value = draw(st.sampled_from([[value], {"k": value}]))
            parent[key] = value
    return config


def assert_stack_invariants(platform: Platform) -> None:
    """What the stacks take for granted of a valid configuration (cheap: no synthesis)."""
    names = [s.name for s in platform.services]
    assert len(set(names)) == len(names)
    assert len(set(platform.apis)) == len(platform.apis)
    assert len({a.removesuffix(".googleapis.com") for a in platform.apis}) == len(platform.apis)
    url_names = [s.url_name for s in platform.services if s.url_name]
    assert len(set(url_names)) == len(url_names) and not set(url_names) & set(platform.operator_secrets)
    assert len({image_tag_variable_name(s.image) for s in platform.services}) == len({s.image for s in platform.services})
    buckets = []
    for env_name, environment in platform.environments.items():
        values = placeholder_values(platform, env_name)
        data_buckets = list(data_bucket_names(platform, env_name).values())
        assert all(bucket_name_problem(name) is None for name in data_buckets)
        buckets += [*data_buckets, environment.state_bucket]
        urls_secret = service_urls_secret_id(platform, env_name)
        assert SECRET_ID.fullmatch(urls_secret) and urls_secret not in set(platform.operator_secrets) | set(url_names)
        for configured in platform.services:
            assert type(configured.port) is int and configured.name not in RESERVED_CONSTRUCT_IDS
            assert ACCOUNT_ID.fullmatch(runtime_account_id(configured.name, env_name))
            env = {k: v for g in configured.env_groups for k, v in platform.env_groups[g].items()} | dict(configured.env)
            rendered = {k: render(v, values) for k, v in env.items()}
            called = {platform.service(c).url_name for c in configured.calls}
            assert None not in called
            assert not (set(rendered) | set(configured.secrets) | called) & RESERVED_ENV_NAMES
            assert set(configured.secrets.values()) <= set(platform.operator_secrets)
    assert len(set(buckets)) == len(buckets)


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory(prefix="fuzz-config-") as directory:
        yield Path(directory)


# Bounded per example; generous, so a loaded CI machine does not fail a healthy run
# (an example takes ~0.05 s here).
EXAMPLE_DEADLINE = timedelta(seconds=10)


# No example database: nothing written into the working tree; a failure prints its example.
@settings(max_examples=150, deadline=EXAMPLE_DEADLINE, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_mutation_is_refused_in_lines_or_keeps_the_promises(data, raw_config, fuzz_dir):
    config = data.draw(mutated_configs(raw_config))
    # One in five through a file: PyYAML in pure Python costs ~0.1 s a file.
    through_yaml = data.draw(st.integers(min_value=0, max_value=4)) == 0
    try:
        if through_yaml:
            path = fuzz_dir / "platform.yaml"
            try:
                text = yaml.safe_dump(config, allow_unicode=True)
            except ValueError:  # PyYAML cannot write an integer over 4,300 digits
                text = "port: " + "9" * 5000
            path.write_text(text, encoding="utf-8")
            source = str(path)
            platform = load_platform(path)
        else:
            source = SOURCE
            platform = parse_platform(config, source=SOURCE)
    except ConfigError as error:
        assert_well_formed(error.problems, source, config)
        event("refused")
        return
    event("valid")
    assert_stack_invariants(platform)


# Text-level mutations reach the YAML reader, which the mutations above (of
# parsed data) do not: splice hostile fragments into the default file.
YAML_FRAGMENTS = [
    "\n? [a, b]\n: 1\n",
    "&a ",
    "*a",
    "*nope",
    "<<: ",
    "<<: *a\n",
    "!!binary x",
    "!!set ",
    "!!timestamp ",
    "!!python/object:os.system ",
    "2024-13-45",
    "9" * 5000,
    "\t",
    "{",
    "[",
    "}",
    "]",
    "'",
    '"',
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\x00",
    "\ufeff",
    "\u2028",
    ": ",
    "- ",
    "? ",
    "|",
    ">",
    "#",
    "ON",
    "~",
    ".inf",
    "0x1F",
    "1_000",
    "[" * 50,
    "{env:d}",
    "{env!r}",
]


@settings(max_examples=100, deadline=EXAMPLE_DEADLINE, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_mutation_of_the_file_is_refused_in_lines_or_keeps_the_promises(data, fuzz_dir):
    text = default_text()
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        position = data.draw(st.integers(min_value=0, max_value=len(text)))
        fragment = data.draw(st.one_of(st.sampled_from(YAML_FRAGMENTS), st.text(max_size=5)))
        cut = data.draw(st.integers(min_value=0, max_value=3))
        text = text[:position] + fragment + text[position + cut :]
    raw = text.encode("utf-8", errors="surrogatepass")
    if data.draw(st.booleans()):
        position = data.draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:position] + data.draw(st.binary(min_size=1, max_size=3)) + raw[position:]
    path = fuzz_dir / "mutated.yaml"
    path.write_bytes(raw)
    try:
        platform = load_platform(path)
    except ConfigError as error:
        assert_well_formed(error.problems, str(path))
        event("refused")
        return
    event("valid")
    assert_stack_invariants(platform)
