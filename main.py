"""Entry point of `cdktf synth` and `make synth`: configuration in, stacks out.

The configuration is validated before the provider bindings are imported, so a
bad value fails in a fraction of a second and no JSON is written.
"""

import sys

from platform_config import ConfigError, load_platform


def main() -> int:
    try:
        platform = load_platform()
    except ConfigError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2

    from stacks import build_app

    build_app(platform).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
