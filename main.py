"""Entry point of `make synth` and `cdktf synth`: configuration in, stacks out.

The configuration is validated before the provider bindings are imported, so a
bad value fails in a fraction of a second and no JSON is written. So does a
synthesis that would let `cdktf synth` delete a folder holding local state.

A synthesis takes shortcuts (synth/provider_bindings.py: only the used
provider submodules, no garbage-collector walks, no interpreter teardown after
success); SYNTH_WITHOUT_SHORTCUTS=1 runs without them. The tests prove both
write the same bytes.
"""

import os
import sys
from pathlib import Path

from platform_config import ConfigError, load_platform, stack_names
from platform_config.naming import synth_outdir
from synth.output_guard import orphaned_state_problems

SHORTCUTS = os.environ.get("SYNTH_WITHOUT_SHORTCUTS") != "1"


def main() -> int:
    try:
        platform = load_platform()
        problems = orphaned_state_problems(Path(synth_outdir()), stack_names(platform.environments))
    except ConfigError as error:
        problems = error.problems
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2

    if SHORTCUTS:
        from synth.provider_bindings import prepare_fast_synth

        prepare_fast_synth()
    from stacks import build_app

    build_app(platform).synth()
    return 0


def run() -> None:
    code = main()
    if code == 0 and SHORTCUTS:
        from synth.provider_bindings import exit_without_teardown

        exit_without_teardown()
    sys.exit(code)


if __name__ == "__main__":
    run()
