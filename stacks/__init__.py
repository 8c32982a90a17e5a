"""Stacks: each composes constructs for one environment."""

from __future__ import annotations

from cdktf import App

from platform_config import Platform

from .app_stack import AppStack
from .bootstrap_stack import BootstrapStack


def build_app(platform: Platform, outdir: str | None = None) -> App:
    """Every stack of every environment, ready to synthesize."""
    app = App(outdir=outdir) if outdir else App()
    for env_name in platform.environments:
        BootstrapStack(app, f"bootstrap-{env_name}", platform=platform, env_name=env_name)
        AppStack(app, f"app-{env_name}", platform=platform, env_name=env_name)
    return app
