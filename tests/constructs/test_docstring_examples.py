"""Every construct's docstring example runs, in a bare stack, and makes resources (or data sources)."""

import importlib
import inspect
import pkgutil
import sys

import pytest
from constructs import Construct

import constructs_lib
from constructs_lib.ci_deployer import CiDeployer
from constructs_lib.ci_identities import CiIdentity
from constructs_lib.cloud_run_service import CloudRunService
from constructs_lib.docker_registry import DockerRegistry
from constructs_lib.github_workload_identity import GitHubWorkloadIdentity
from constructs_lib.hardened_bucket import HardenedBucket
from constructs_lib.operator_secrets import OperatorSecretsPresent
from constructs_lib.project_services import ProjectServices
from constructs_lib.published_secret import PublishedSecret, PublishedSecretValue
from constructs_lib.runtime_identity import RuntimeIdentity

from .bare_stack import bare_stack, docstring_example, synth

CONSTRUCTS = [
    HardenedBucket,
    DockerRegistry,
    CiDeployer,
    CiIdentity,
    GitHubWorkloadIdentity,
    ProjectServices,
    CloudRunService,
    PublishedSecret,
    PublishedSecretValue,
    RuntimeIdentity,
    OperatorSecretsPresent,
]


@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda c: c.__name__)
def test_docstring_example_runs(construct):
    stack = bare_stack()
    # The example sees what its own module imports, and `stack`.
    exec(docstring_example(construct), {**vars(sys.modules[construct.__module__]), "stack": stack})
    synthesized = synth(stack)
    assert synthesized.get("resource") or synthesized.get("data")


def test_every_construct_of_constructs_lib_is_listed():
    """A new construct gets a docstring example (and a test module) too."""
    defined = {
        cls
        for module_info in pkgutil.iter_modules(constructs_lib.__path__)
        for _, cls in inspect.getmembers(importlib.import_module(f"constructs_lib.{module_info.name}"), inspect.isclass)
        if issubclass(cls, Construct) and cls.__module__.startswith("constructs_lib.")
    }
    assert defined == set(CONSTRUCTS)
