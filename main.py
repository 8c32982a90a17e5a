"""Entry point of `make synth` and `cdktf synth`: configuration in, stacks out.

The configuration is validated before the provider bindings are imported, so a
bad value fails in a fraction of a second and no JSON is written.

Shortcuts that keep a synth fast (each proven output-neutral by the tests; set
SYNTH_WITHOUT_SHORTCUTS=1 to run without them):
- only the provider submodules the constructs use are imported;
- the garbage collector is off: the run is short, and collecting walks the
  provider's large object graph again and again;
- after a successful synth the exit handlers run (jsii stops its node
  process and removes its files) and the process ends without interpreter
  teardown, which would walk that graph once more.
"""

import atexit
import gc
import os
import sys

from platform_config import ConfigError, load_platform

SHORTCUTS = os.environ.get("SYNTH_WITHOUT_SHORTCUTS") != "1"


def main() -> int:
    try:
        platform = load_platform()
    except ConfigError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2

    if SHORTCUTS:
        gc.disable()
        from constructs_lib.provider_bindings import import_only_used_submodules

        import_only_used_submodules()
    from stacks import build_app

    build_app(platform).synth()
    return 0


def run() -> None:
    code = main()
    if code == 0 and SHORTCUTS:
        # What a normal exit does that matters (stop the jsii node process,
        # remove its temporary files), without the interpreter's teardown.
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    sys.exit(code)


if __name__ == "__main__":
    run()
