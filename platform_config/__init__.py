"""The platform's configuration: one typed, validated description of every environment."""

from .loader import CONFIG_ENV_VAR, DEFAULT_CONFIG, ConfigError, config_path, load_platform, parse_platform
from .model import Adoptable, Environment, Platform, Service, app_state_prefix, runtime_account_id

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG",
    "Adoptable",
    "ConfigError",
    "Environment",
    "Platform",
    "Service",
    "app_state_prefix",
    "config_path",
    "load_platform",
    "parse_platform",
    "runtime_account_id",
]
