"""After the apply: every configured service's latest revision is ready and
serving, and every configured health path answers 2xx. Fails naming the
service, and says how to roll back.

    python -m tools.verify_deploy ENV OUTPUTS_JSON

OUTPUTS_JSON is `tofu output -json` of the app stack (its `service_urls`).
Readiness comes from `gcloud run services describe`. Retries are bounded:
VERIFY_ATTEMPTS (default 10) tries, VERIFY_INTERVAL_SECONDS (default 15) apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from platform_config import ConfigError, Environment, Service, load_platform

HTTP_TIMEOUT_SECONDS = 10
GCLOUD_TIMEOUT_SECONDS = 60


def readiness_problem(service: Service, environment: Environment) -> str | None:
    """None when the latest created revision is the latest ready one."""
    command = ["gcloud", "run", "services", "describe", service.name, "--project", environment.project_id, "--region", environment.region, "--format=json"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=GCLOUD_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot describe it ({error})"
    if result.returncode != 0:
        return f"cannot describe it: {' '.join(result.stderr.split())[:200]}"
    try:
        status = json.loads(result.stdout).get("status", {})
    except (json.JSONDecodeError, AttributeError):
        return "gcloud returned no JSON description"
    ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
    if ready.get("status") != "True":
        return f"not ready: {ready.get('message') or ready.get('reason') or 'no Ready condition'}"
    if status.get("latestReadyRevisionName") != status.get("latestCreatedRevisionName"):
        return f"revision {status.get('latestCreatedRevisionName')} is not serving (ready: {status.get('latestReadyRevisionName')})"
    return None


def health_problem(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return None if 200 <= response.status < 300 else f"GET {url} answered {response.status}"
    except urllib.error.HTTPError as error:
        return f"GET {url} answered {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"GET {url} failed: {getattr(error, 'reason', error)}"


def problems_once(services: list[Service], environment: Environment, urls: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for service in services:
        problem = readiness_problem(service, environment)
        if problem is None and service.health_path:
            base = urls.get(service.name)
            problem = health_problem(base.rstrip("/") + service.health_path) if base else "no URL in the stack's service_urls output"
        if problem:
            found[service.name] = problem
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tools.verify_deploy ENV OUTPUTS_JSON", file=sys.stderr)
        return 2
    try:
        platform = load_platform()
        environment = platform.environments[argv[0]]
        urls = json.loads(Path(argv[1]).read_text())["service_urls"]["value"]
    except ConfigError as error:
        print("\n".join(f"error: {p}" for p in error.problems), file=sys.stderr)
        return 2
    except KeyError as error:
        print(f"error: {error.args[0]!r} not found (environment, or service_urls in {argv[1]})", file=sys.stderr)
        return 2
    except (OSError, ValueError, TypeError) as error:
        print(f"error: cannot read the stack outputs {argv[1]}: {error}", file=sys.stderr)
        return 2
    attempts = int(os.environ.get("VERIFY_ATTEMPTS", "10"))
    interval = float(os.environ.get("VERIFY_INTERVAL_SECONDS", "15"))
    remaining = list(platform.services)
    for attempt in range(attempts):
        failing = problems_once(remaining, environment, urls)
        remaining = [s for s in remaining if s.name in failing]
        if not remaining:
            print(f"verify: all {len(platform.services)} services of {argv[0]} ready and healthy")
            return 0
        if attempt + 1 < attempts:
            time.sleep(interval)
    for name, problem in failing.items():
        print(f"verify: {name}: {problem}", file=sys.stderr)
    print(
        "roll back: re-run the deploy with the previous app_ref, or with image_tags naming the previous tags "
        "(nothing is rebuilt); fast path: gcloud run services update-traffic SERVICE "
        f"--to-revisions=PREVIOUS_REVISION=100 --project {environment.project_id} --region {environment.region} (README, Roll back)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
