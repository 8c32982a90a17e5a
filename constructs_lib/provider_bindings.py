"""Loading only the provider bindings that the constructs use.

`cdktf_cdktf_provider_google/__init__.py` imports all ~1,470 resource
submodules (about 7 s). Each submodule needs only the package's `_jsii`
module, which loads the provider's jsii assembly; so the package is
registered without running its `__init__`, and each submodule is imported
when a construct imports it. Tests prove the synthesized JSON is
byte-identical with and without this.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

PACKAGE = "cdktf_cdktf_provider_google"


def import_only_used_submodules() -> None:
    """Call before anything imports the provider; a no-op after that."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed: run `make synth`, which installs it")
    sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)
    importlib.import_module(f"{PACKAGE}._jsii")
