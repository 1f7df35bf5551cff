"""An operation folder's settings (``kaitiaki.toml``) and how a folder is laid out."""

from kaitiaki.config.folder import InitOptions, InitResult, Reporter, init_operation
from kaitiaki.config.settings import (
    ENV_CONFIG,
    FILENAME,
    SETTINGS,
    ConfigError,
    OperationConfig,
    Setting,
    Value,
    find_config,
    load_config,
)

__all__ = [
    "ENV_CONFIG",
    "FILENAME",
    "SETTINGS",
    "ConfigError",
    "InitOptions",
    "InitResult",
    "OperationConfig",
    "Reporter",
    "Setting",
    "Value",
    "find_config",
    "init_operation",
    "load_config",
]
