"""Keeping a synthesis fast where the provider bindings make it slow.

`cdktf_cdktf_provider_google/__init__.py` imports all ~1,470 resource
submodules (about 7 s). Each submodule needs only the package's `_jsii`
module, which loads the provider's jsii assembly; so the package is
registered without running its `__init__`, and each submodule is imported
when a construct imports it. The same holds on the JavaScript side: loading
the assembly requires the provider's `lib/index.js`, which requires every
resource module (about 2.4 s); jsii's node process starts with
`provider_index_lazy.cjs` preloaded, which makes each of them load on first
use. The bindings' object graph is large: the garbage collector walking it,
during the run and at interpreter teardown, costs seconds and frees nothing
that matters in a short run.

Tests prove the synthesized JSON is byte-identical with and without all this.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "cdktf_cdktf_provider_google"
LAZY_INDEX = Path(__file__).resolve().with_name("provider_index_lazy.cjs")


@contextlib.contextmanager
def lazy_provider_index() -> Iterator[None]:
    """jsii's node process, if it starts inside this block, loads the
    provider's resource modules on first use. It starts with the first jsii
    import (constructs, cdktf or the provider). NODE_OPTIONS is restored
    afterwards, so no other process (a test's `cdktf synth`) inherits it."""
    before = os.environ.get("NODE_OPTIONS")
    quoted = str(LAZY_INDEX).replace("\\", "\\\\").replace('"', '\\"')
    os.environ["NODE_OPTIONS"] = f'{before or ""} --require "{quoted}"'.lstrip()
    try:
        yield
    finally:
        if before is None:
            del os.environ["NODE_OPTIONS"]
        else:
            os.environ["NODE_OPTIONS"] = before


def import_only_used_submodules() -> None:
    """Call before anything imports the provider or cdktf; a no-op after that."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed: run `make synth`, which installs it")
    sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)
    with lazy_provider_index():
        importlib.import_module(f"{PACKAGE}._jsii")


def prepare_fast_synth() -> None:
    """For a process that synthesizes once and ends."""
    gc.disable()
    import_only_used_submodules()


def exit_without_teardown(code: int = 0) -> None:
    """What a normal exit does that matters (jsii stops its node process and
    removes its temporary files), without the interpreter's teardown."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
