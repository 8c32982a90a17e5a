"""Where one synthesis spends its time, phase by phase (run by bench/run.py).

    python bench/phases.py OUTDIR [shortcuts|full]

Prints one JSON object: each phase's end as wall-clock time (time.time(), so
bench/run.py can subtract the moment it started the process: the first phase
is the interpreter's start-up). The exit phase is measured from outside, by
bench/run.py. `shortcuts` does what main.py does; `full` is a plain import of
the provider package with the garbage collector on, as the naive app does.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

START = time.time()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    outdir, mode = sys.argv[1], sys.argv[2]
    marks = {"interpreter": START}
    from platform_config import load_platform
    from synth import provider_bindings

    platform = load_platform()
    marks["configuration"] = time.time()
    if mode == "shortcuts":
        gc.disable()
    with provider_bindings.lazy_provider_index() if mode == "shortcuts" else nullcontext():
        import cdktf  # noqa: F401  (starts jsii's node process; the cdktf and constructs assemblies)

    marks["cdktf"] = time.time()
    provider_bindings.import_only_used_submodules()
    marks["provider_assembly_load"] = time.time()
    if mode == "full":
        # The package's own __init__: every resource submodule, as a plain import does.
        package = sys.modules[provider_bindings.PACKAGE]
        spec = importlib.util.find_spec(provider_bindings.PACKAGE)
        assert spec is not None and spec.loader is not None  # the package is imported: sys.modules holds it
        spec.loader.exec_module(package)
    from stacks import build_app

    marks["provider_import"] = time.time()
    app = build_app(platform, outdir)
    marks["construction"] = time.time()
    app.synth()
    marks["synth"] = time.time()
    print(json.dumps(marks), flush=True)
    if mode == "shortcuts":
        provider_bindings.exit_without_teardown()


if __name__ == "__main__":
    main()
