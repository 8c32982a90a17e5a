"""Where one synthesis spends its time, phase by phase (run by bench/run.py).

    python bench/phases.py OUTDIR [shortcuts|full]

Prints one JSON object of seconds since the interpreter started: each phase's
end. The exit phase is measured from outside, by bench/run.py.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    outdir, mode = sys.argv[1], sys.argv[2]
    marks = {"start": time.perf_counter()}
    from platform_config import load_platform

    platform = load_platform()
    import cdktf  # noqa: F401  (the cdktf and constructs assemblies)

    marks["config_and_cdktf"] = time.perf_counter()
    from constructs_lib import provider_bindings

    if mode == "shortcuts":
        provider_bindings.prepare_fast_synth()
    else:
        provider_bindings.import_only_used_submodules()
    marks["provider_assembly_load"] = time.perf_counter()
    if mode == "full":
        # The package's own __init__: every resource submodule, as a plain import does.
        package = sys.modules[provider_bindings.PACKAGE]
        importlib.util.find_spec(provider_bindings.PACKAGE).loader.exec_module(package)
    from stacks import build_app

    marks["provider_import"] = time.perf_counter()
    app = build_app(platform, outdir)
    marks["construction"] = time.perf_counter()
    app.synth()
    marks["synth"] = time.perf_counter()
    start = marks.pop("start")
    print(json.dumps({name: round(mark - start, 3) for name, mark in marks.items()}), flush=True)
    if mode == "shortcuts":
        provider_bindings.exit_without_teardown()


if __name__ == "__main__":
    main()
