"""The Google APIs a project needs, enabled and never switched off by a destroy."""

from __future__ import annotations

from cdktf_cdktf_provider_google.project_service import ProjectService
from constructs import Construct


class ProjectServices(Construct):
    """The given APIs, each enabled once for the project (`services`, for
    ordering other resources after them: constructs_lib.ordering.after).

    Example::

        apis = ProjectServices(stack, "apis", project="my-project", apis=["run.googleapis.com", "secretmanager.googleapis.com"])
    """

    def __init__(self, scope: Construct, id: str, *, project: str, apis: list[str]) -> None:
        super().__init__(scope, id)
        self.services = [
            ProjectService(
                self,
                api.removesuffix(".googleapis.com"),
                project=project,
                service=api,
                # Turning an API off would break whatever else uses it in the project.
                disable_on_destroy=False,
                disable_dependent_services=False,
            )
            for api in apis
        ]
