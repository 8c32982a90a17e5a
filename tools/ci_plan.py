"""What the deploy workflow needs to know, read from the configuration, so the
workflow holds no list of services or images of its own.

    python -m tools.ci_plan ENV matrix        build matrix of the service images (JSON)
    python -m tools.ci_plan ENV late-images   images built after the services' URLs are known (JSON)
    python -m tools.ci_plan ENV tfvars TAG    image_tag_<image> = TAG for every image (tfvars JSON)
    python -m tools.ci_plan ENV exclude OUT   -exclude flags keeping late-built services out of
                                              the first apply (reads OUT/stacks/app-ENV/cdk.tf.json)
    python -m tools.ci_plan ENV urls-secret   the Secret Manager secret holding every service URL
    python -m tools.ci_plan ENV build-args URLS_JSON
                                              --build-arg=NAME=URL, one a line, for every service URL
                                              (URLS_JSON: the value of service-urls-ENV)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from platform_config import ConfigError, Platform, Service, image_tag_variable_name, load_platform
from platform_config.naming import service_urls_secret_id

COMMANDS = [line.split()[4] for line in __doc__.splitlines() if line.startswith("    python -m tools.ci_plan ENV ")]


class InputError(Exception):
    """An argument or input file this tool cannot use; one line for the user."""


def read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read {what} {path} ({error.strerror})") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise InputError(f"{what} {path} is not JSON: {' '.join(str(error).split())[:200]}") from None


def _image_entry(service: Service) -> dict[str, str]:
    return {"image": service.image, "dockerfile": service.build.dockerfile, "context": service.build.context}


def _images(platform: Platform, late: bool) -> list[dict[str, str]]:
    """One entry per image, in configuration order."""
    seen: dict[str, dict[str, str]] = {}
    for service in platform.services:
        if service.build.service_url_build_args == late and service.image not in seen:
            seen[service.image] = _image_entry(service)
    return list(seen.values())


def build_matrix(platform: Platform) -> list[dict[str, str]]:
    return _images(platform, late=False)


def late_images(platform: Platform) -> list[dict[str, str]]:
    return _images(platform, late=True)


def tfvars(platform: Platform, tag: str) -> dict[str, str]:
    return {image_tag_variable_name(s.image): tag for s in platform.services}


def exclude_flags(platform: Platform, env_name: str, outdir: Path) -> list[str]:
    """The late-built services' Cloud Run resources and image checks; what
    depends on them (their invoker grants) is left out by OpenTofu itself."""
    path = outdir / "stacks" / f"app-{env_name}" / "cdk.tf.json"
    stack = read_json(path, "synthesized app stack")
    late = {s.name for s in platform.services if s.build.service_url_build_args}
    late_image_names = {entry["image"] for entry in late_images(platform)}
    flags = []
    try:
        for name, body in stack["resource"]["google_cloud_run_v2_service"].items():
            if body["name"] in late:
                flags.append(f"-exclude=google_cloud_run_v2_service.{name}")
        for name, body in stack.get("data", {}).get("google_artifact_registry_docker_image", {}).items():
            if body["image_name"].split(":")[0] in late_image_names:
                flags.append(f"-exclude=data.google_artifact_registry_docker_image.{name}")
    except (KeyError, TypeError, AttributeError):
        raise InputError(f"{path} is not an app stack synthesized by this project (no Cloud Run services found); run make synth") from None
    return sorted(flags)


def url_build_args(platform: Platform, urls: dict[str, str]) -> list[str]:
    """Build arguments for the late images: every configured service URL,
    read from the service-urls secret's JSON; a missing one is an error."""
    missing = [s.url_name for s in platform.services if s.url_name and not urls.get(s.url_name.lower())]
    if missing:
        raise SystemExit(f"service-urls secret lacks {', '.join(missing)}: did deploy-services apply?")
    return [f"--build-arg={s.url_name}={urls[s.url_name.lower()]}" for s in platform.services if s.url_name]


def read_urls(path: Path) -> dict[str, str]:
    urls = read_json(path, "service URLs")
    if not isinstance(urls, dict) or not all(isinstance(v, str) for v in urls.values()):
        raise InputError(f"service URLs {path} must be a JSON object of names to URLs (the value of the service-urls secret)")
    return urls


def main(argv: list[str]) -> int:
    try:
        return run(argv)
    except ConfigError as error:
        problems = error.problems
    except InputError as error:
        problems = [f"ci_plan: {error}"]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2


def run(argv: list[str]) -> int:
    platform = load_platform()
    if len(argv) < 2 or argv[0] not in platform.environments:
        raise InputError(f"usage: python -m tools.ci_plan ENV COMMAND [ARG] with ENV one of {', '.join(platform.environments)} (see the module's docstring)")
    env_name, command, *rest = argv
    if command == "matrix":
        print(json.dumps(build_matrix(platform)))
    elif command == "late-images":
        print(json.dumps(late_images(platform)))
    elif command == "tfvars" and len(rest) == 1:
        print(json.dumps(tfvars(platform, rest[0]), indent=2))
    elif command == "exclude" and len(rest) == 1:
        print(" ".join(exclude_flags(platform, env_name, Path(rest[0]))))
    elif command == "urls-secret":
        print(service_urls_secret_id(platform, env_name))
    elif command == "build-args" and len(rest) == 1:
        print("\n".join(url_build_args(platform, read_urls(Path(rest[0])))))
    else:
        raise InputError(f"unknown command or wrong arguments {' '.join(map(repr, argv[1:]))[:200]}; use one of: {', '.join(COMMANDS)} (see the module's docstring)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
