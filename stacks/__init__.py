"""Stacks: each composes constructs for one environment."""

from __future__ import annotations

from cdktf import App

from platform_config import Platform
from platform_config.naming import app_stack_name, bootstrap_stack_name

from .app_stack import AppStack
from .bootstrap_stack import BootstrapStack


def build_app(platform: Platform, outdir: str | None = None) -> App:
    """Every stack of every environment, ready to synthesize.

    cdktf's synth-time validations are skipped: the one that fires here
    (`import_from` checks the Terraform CLI version) runs `terraform version`
    in a subprocess, which fails where only OpenTofu is installed (GitHub's
    ubuntu-latest has neither). What they checked is covered by our tests and
    the pull request's `tofu validate` (README, "Security: which check runs where")."""
    app = App(outdir=outdir, skip_validation=True) if outdir else App(skip_validation=True)
    for env_name in platform.environments:
        BootstrapStack(app, bootstrap_stack_name(env_name), platform=platform, env_name=env_name)
        AppStack(app, app_stack_name(env_name), platform=platform, env_name=env_name)
    return app
