"""Every shape of environment the configuration accepts, generated from the
default configuration: nothing to adopt, everything to adopt, one
environment, several. The stack property tests of tests/test_*.py run over
each shape (tests/shapes/test_*.py reuse them), so a property that holds only
for the default platform's shape fails here.

A test here gets `platform`, `stacks`, `env_name` (and so `environment`) from
its shape; each shape is synthesized once per worker."""

from __future__ import annotations

import copy
import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from platform_config import DEFAULT_CONFIG, Platform, load_platform, parse_platform
from platform_config.model import Adoptable, Environment
from platform_config.naming import url_secret_ids

from ..conftest import synthesize

DEFAULT = load_platform(DEFAULT_CONFIG)
# Every list of things that exist already and are imported (adopt, adopt_secrets, ...).
ADOPTION_FIELDS = [name for name in Environment.model_fields if name.startswith("adopt")]
# A name no platform has (an environment of the configuration would be replaced).
ADDED_ENVIRONMENT = "testenv"


def nothing_adopted(config: dict) -> None:
    """A new platform: every resource is created."""
    for environment in config["environments"].values():
        environment.update({field: [] for field in ADOPTION_FIELDS})


def everything_adopted(config: dict) -> None:
    """Everything that can be adopted exists already, in every environment."""
    services = [service["name"] for service in config["services"]]
    for env_name, environment in config["environments"].items():
        environment["adopt"] = [kind.value for kind in Adoptable]
        environment["adopt_secrets"] = url_secret_ids(DEFAULT, env_name)
        environment["adopt_services"] = services
        environment["adopt_runtime_accounts"] = services
        environment["adopt_buckets"] = list(config["data_buckets"])


def one_environment(config: dict) -> None:
    first = next(iter(config["environments"]))
    config["environments"] = {first: config["environments"][first]}


def several_environments(config: dict) -> None:
    """A third environment in a project of its own, made from the first one
    with its name in every name, adopting nothing (nothing exists there yet)."""
    first, environment = next(iter(config["environments"].items()))
    added = json.loads(json.dumps(environment).replace(first, ADDED_ENVIRONMENT))
    added["project_id"] = f"{environment['project_id']}-{ADDED_ENVIRONMENT}"
    added["deploy_branch"] = ADDED_ENVIRONMENT
    added.update({field: [] for field in ADOPTION_FIELDS})
    config["environments"][ADDED_ENVIRONMENT] = added


def shaped(change: Callable[[dict], None]) -> Platform:
    config = copy.deepcopy(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    change(config)
    return parse_platform(config)


SHAPES: dict[str, Platform] = {
    change.__name__.replace("_", "-"): shaped(change) for change in (nothing_adopted, everything_adopted, one_environment, several_environments)
}


@dataclass(frozen=True)
class Case:
    shape: str
    env_name: str | None = None

    def __str__(self) -> str:
        return "/".join(part for part in (self.shape, self.env_name) if part)


def pytest_generate_tests(metafunc):
    """A test that takes an environment runs for each environment of each shape."""
    if "case" not in metafunc.fixturenames:
        return
    per_environment = "env_name" in metafunc.fixturenames
    cases = [Case(shape, env) for shape, platform in SHAPES.items() for env in (platform.environments if per_environment else [None])]
    metafunc.parametrize("case", cases, ids=str)


# The fixtures the reused tests take: a stack, and nothing but the configuration besides.
STACK_FIXTURES = frozenset({"stacks", "stack", "bootstrap"})
SHAPE_FIXTURES = STACK_FIXTURES | {"platform", "env_name", "environment"}


def property_tests(module: ModuleType) -> dict[str, Callable]:
    """The tests of `module` that read a stack and nothing but the configuration besides."""
    reused = {}
    for name, test in vars(module).items():
        if name.startswith("test_") and inspect.isfunction(test):
            fixtures = set(inspect.signature(test).parameters)
            if fixtures & STACK_FIXTURES and fixtures <= SHAPE_FIXTURES:
                reused[name] = test
    return reused


@pytest.fixture(scope="session")
def synthesized_shape(tmp_path_factory) -> Callable[[str], dict[str, dict]]:
    @functools.cache
    def synthesize_shape(shape: str) -> dict[str, dict]:
        return synthesize(SHAPES[shape], Path(tmp_path_factory.mktemp(shape)))

    return synthesize_shape


@pytest.fixture
def platform(case) -> Platform:
    return SHAPES[case.shape]


@pytest.fixture
def stacks(case, synthesized_shape) -> dict[str, dict]:
    return synthesized_shape(case.shape)


@pytest.fixture
def env_name(case) -> str:
    return case.env_name
