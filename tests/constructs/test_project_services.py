from constructs_lib.project_services import ProjectServices

from ..tfjson import resources
from .bare_stack import PROJECT, bare_stack, synth

APIS = ["run.googleapis.com", "secretmanager.googleapis.com"]


def build(apis: list[str]) -> dict:
    stack = bare_stack()
    ProjectServices(stack, "apis", project=PROJECT, apis=apis)
    return synth(stack)


def test_each_api_enabled_and_never_disabled_by_a_destroy():
    services = resources(build(APIS), "google_project_service")
    assert sorted(s["service"] for s in services.values()) == APIS
    for service in services.values():
        assert service["disable_on_destroy"] is False
        assert service["disable_dependent_services"] is False


def test_apis_keyed_by_name_not_position():
    assert set(resources(build(APIS), "google_project_service")) == set(resources(build(APIS[::-1]), "google_project_service"))
