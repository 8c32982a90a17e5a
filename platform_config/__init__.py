"""The platform's configuration: one typed, validated description of every environment."""

from .loader import CONFIG_ENV_VAR, DEFAULT_CONFIG, ConfigError, load_platform, parse_platform
from .model import Adoptable, Environment, Platform, Service
from .naming import app_state_prefix, ci_role_id, image_tag_variable_name, runtime_account_id, stack_names, url_secret_ids

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG",
    "Adoptable",
    "ConfigError",
    "Environment",
    "Platform",
    "Service",
    "app_state_prefix",
    "ci_role_id",
    "image_tag_variable_name",
    "load_platform",
    "parse_platform",
    "runtime_account_id",
    "stack_names",
    "url_secret_ids",
]
