"""`make rehearse`: the deploy workflow run by act through the application's
caller, scenario after scenario in one world; one line per scenario,
`rehearsal <scenario>: ok` or `rehearsal <scenario>: FAILED <why>`, exit 1 on
any failure. Logs and records stay in the printed folder on failure."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from platform_config import Platform
from tools.drift_issue import drift_title, failure_title

from .harness import GITHUB_STATE, MERGED_SUBJECT, Outcome, Rehearsal, Scenario


class Failed(Exception):
    pass


def expect(condition: bool, why: str) -> None:
    if not condition:
        raise Failed(why)


def job_order(outcome: Outcome) -> list[str]:
    """Jobs in the order their first stand-in call happened."""
    order: list[str] = []
    for entry in outcome.records:
        if entry["job"] and entry["job"] not in order:
            order.append(entry["job"])
    return order


def images(platform: Platform) -> list[str]:
    return list(dict.fromkeys(s.image for s in platform.services))


def pushed(outcome: Outcome) -> list[str]:
    return [r["args"][1] for r in outcome.of("docker") if r["args"][0] == "push"]


def check_happy_path(rehearsal: Rehearsal, outcome: Outcome) -> None:
    platform = rehearsal.platform
    expect(outcome.exit_code == 0, f"the run failed: {tail(outcome)}")
    order = job_order(outcome)
    expected = ["prepare", "preflight", "build-images", "plan", "apply", "verify"]
    expect([job for job in order if job in expected] == expected, f"jobs ran as {order}, not {expected}")
    expect(
        sorted(p.rsplit("/", 1)[1].split(":")[0] for p in pushed(outcome)) == sorted(images(platform)),
        f"pushed {pushed(outcome)}, not one push per image {images(platform)}",
    )
    url_names = {s.url_name for s in platform.services if s.url_name}
    for service in platform.services:
        if service.build.service_url_build_args:
            [build] = [r for r in outcome.of("docker") if r["args"][0] == "build" and f"/{service.image}:" in " ".join(r["args"])]
            given = {arg.split("=", 2)[1] for arg in build["args"] if arg.startswith("--build-arg=")}
            expect(given == url_names, f"{service.image} built with {sorted(given)}, not every service URL")
    [applied] = outcome.of("apply")
    [planned] = [r for r in outcome.of("plan") if r["job"] == "plan"]
    expect(
        applied["variables"] == planned["variables"] and applied["plan_digest"] == planned["plan_digest"], "apply did not apply the saved plan of the plan job"
    )
    expect(all(v.startswith("v1.0.0-") for k, v in applied["variables"].items() if k.startswith("image_tag_")), f"image tags passed as {applied['variables']}")
    claims = {r["job"]: r["claims"].get("environment") for r in outcome.of("auth")}
    expect(
        claims.get("apply") == outcome.environment and not [job for job, claim in claims.items() if claim and job != "apply"],
        f"environment claims by job {claims}: only apply may carry one, that of {outcome.environment} (derived from the ref)",
    )
    identities = {(r["job"], r["access"]) for r in outcome.of("identity")}
    expect(
        {job for job, access in identities if access == "deploy"} == {"apply"},
        f"the deployer identity was used by {sorted(identities)}: only the apply job (the one approval) may",
    )
    for checkout in outcome.of("checkout"):
        if checkout["path"] == ".":
            expect(
                checkout["repository"] == rehearsal.github["infra_repository"],
                f"job {checkout['job']} checked out {checkout['repository']} to run this project's commands",
            )


def check_stopped_before_changes(reason: str) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        expect(outcome.exit_code != 0, "the run succeeded")
        expect(not outcome.of("apply"), "something was applied")
        expect(reason in outcome.log, f"the log does not say {reason!r}: {tail(outcome)}")

    return check


def check_no_push_no_apply(reason: str) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        check_stopped_before_changes(reason)(rehearsal, outcome)
        expect(not pushed(outcome), f"images were pushed: {pushed(outcome)}")

    return check


def check_refused_ref(branch: str) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        check_no_push_no_apply(f"'refs/heads/{branch}' is not a deploy branch")(rehearsal, outcome)
        expect(outcome.job_results().get("prepare") == "failure", "prepare did not stop the run")
        expect(not outcome.of("auth"), "a job asked for a Google identity although no environment deploys this branch")

    return check


def check_build_failure(image: str) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        check_stopped_before_changes("rehearsed failure")(rehearsal, outcome)
        expect(outcome.job_results().get("build-images") == "failure", "the failing build did not fail its job")
        expect(not [r for r in outcome.of("tofu") if r["command"] == "plan"], "a plan ran after a failed build")
        expect(not any(f"/{image}:" in p for p in pushed(outcome)), f"{image} was pushed although its build failed")

    return check


def check_health_failure(service: str) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        expect(outcome.exit_code != 0, "the run succeeded although a service is unhealthy")
        expect(f"verify: {service}:" in outcome.log, f"verify did not name {service}: {tail(outcome)}")
        expect("roll back:" in outcome.log, "verify did not say how to roll back")

    return check


def check_rollback(rehearsal: Rehearsal, outcome: Outcome) -> None:
    expect(outcome.exit_code == 0, f"the rollback failed: {tail(outcome)}")
    expect(not [r for r in outcome.of("docker") if r["args"][0] == "build"], "a rollback rebuilt images")
    [planned] = [r for r in outcome.of("plan") if r["job"] == "plan"]
    expect(planned["changes"] >= len(rehearsal.platform.services), "the rollback's plan does not change every service's image")
    [applied] = outcome.of("apply")
    expect(
        set(v for k, v in applied["variables"].items() if k.startswith("image_tag_")) == {ROLLBACK_TAG},
        f"applied tags {applied['variables']}, not the rollback tag",
    )


def check_rotation(rehearsal: Rehearsal, outcome: Outcome) -> None:
    expect(outcome.exit_code == 0, f"the rollout failed: {tail(outcome)}")
    [planned] = [r for r in outcome.of("plan") if r["job"] == "plan"]
    expect(planned["changes"] >= len(rehearsal.platform.services), "a new rollout id did not change every service")
    expect(not [r for r in outcome.of("docker") if r["args"][0] == "build"], "a rollout rebuilt images")


def issues(outcome: Outcome, title: str) -> list[dict]:
    """The issues of that title in the stand-in of GitHub's API after the run."""
    state = json.loads((outcome.world / GITHUB_STATE).read_text())
    return [issue for issue in state["issues"] if issue["title"] == title]


def check_drift(environment: str, merged: bool = False) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        expect(outcome.exit_code == 0, f"the drift run failed: {tail(outcome)}")
        expect(not outcome.of("apply"), "the drift run applied")
        found = issues(outcome, drift_title(environment))
        expect(len(found) == 1 and found[0]["state"] == "open", f"not one open issue {drift_title(environment)!r}: {found}")
        expect("to update" in found[0]["body"], f"the issue has no plan summary: {found[0]['body'][:300]}")
        quiet = [name for name in rehearsal.platform.environments if name != environment and issues(outcome, drift_title(name))]
        expect(not quiet, f"drift reported for {quiet}, which did not drift")
        if merged:
            body = found[0]["body"]
            expect("Merged, not deployed (not drift)" in body and MERGED_SUBJECT in body, f"the merged change is not told apart: {body[-600:]}")

    return check


def check_failed_drift_check(environment: str) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        expect(outcome.exit_code != 0, "the drift run passed although its plans failed")
        expect(not outcome.of("apply"), "the drift run applied")
        found = issues(outcome, failure_title(environment))
        expect(len(found) == 1 and found[0]["state"] == "open", f"no open issue {failure_title(environment)!r}: {found}")
        expect("/actions/runs/" in found[0]["body"], "the failure issue does not link the run")

    return check


def check_drift_clean(environment: str) -> Callable[[Rehearsal, Outcome], None]:
    def check(rehearsal: Rehearsal, outcome: Outcome) -> None:
        expect(outcome.exit_code == 0, f"the drift run failed: {tail(outcome)}")
        for title in (drift_title(environment), failure_title(environment)):
            found = issues(outcome, title)
            expect(bool(found) and all(i["state"] == "closed" for i in found), f"{title!r} is not closed: {found}")

    return check


def check_unbuilt_tag_refused(rehearsal: Rehearsal, outcome: Outcome) -> None:
    expect(outcome.exit_code != 0, "a deploy of image_tags never built succeeded")
    expect(outcome.job_results().get("build-images") == "failure", "build-images did not stop")
    expect(
        "is not in the registry (or the builder cannot read it): image_tags deploys only tags built before" in outcome.log,
        f"the one line is missing: {tail(outcome)}",
    )
    expect(not [r for r in outcome.of("docker") if r["args"][0] == "build"], "an image was built for a tag named by image_tags")
    expect(not outcome.of("apply"), "an apply ran")


def check_rerun(rehearsal: Rehearsal, outcome: Outcome) -> None:
    first = (outcome.world / "first-attempt.log").read_text()
    expect("verify: " in first, "the first attempt did not fail in verify")
    expect(outcome.exit_code == 0, f"the re-run failed: {tail(outcome)}")
    for name in ("synth", "plan"):
        uploads = [r for r in outcome.of("upload-artifact") if r["name"] == name]
        expect(len(uploads) == 2, f"artifact {name} uploaded {len(uploads)} times over two attempts, not twice")


def check_unprotected_environment(rehearsal: Rehearsal, outcome: Outcome) -> None:
    environment = rehearsal.platform.environments[outcome.environment]
    expect(outcome.exit_code != 0, "the run succeeded although its GitHub environment has no reviewers")
    expect(outcome.job_results().get("apply") == "failure", "apply did not stop")
    expect("has no required reviewers" in outcome.log, f"the one line about the environment is missing: {tail(outcome)}")
    deployer = f"{environment.deployer_account_id}@"
    expect(not [r for r in outcome.of("auth") if r["account"].startswith(deployer)], "the deployer's token was requested")
    expect(not outcome.of("apply"), "an apply ran")


def check_private_infra(rehearsal: Rehearsal, outcome: Outcome) -> None:
    expect(outcome.exit_code == 0, f"the deploy from a private infrastructure repository failed: {tail(outcome)}")
    infra = [r for r in outcome.of("checkout") if r["repository"] == rehearsal.github["infra_repository"]]
    expect(bool(infra) and all(r["token"] for r in infra), "a checkout of the infrastructure repository had no token")


def check_private_infra_without_token(rehearsal: Rehearsal, outcome: Outcome) -> None:
    check_no_push_no_apply("Repository not found")(rehearsal, outcome)
    expect(outcome.job_results().get("prepare") == "failure", "prepare did not stop at its checkout")


def tail(outcome: Outcome) -> str:
    lines = [line for line in outcome.log.splitlines() if "error" in line.lower() or "fail" in line.lower()]
    return " | ".join(lines[-3:])[:400] or f"exit {outcome.exit_code}, see {outcome.world}/act.log"


ROLLBACK_TAG = "v0.9.0-rollback"


def scenarios(rehearsal: Rehearsal):
    platform = rehearsal.platform
    production = (
        next(name for name, env in platform.environments.items() if env.deletion_protection)
        if any(env.deletion_protection for env in platform.environments.values())
        else next(iter(platform.environments))
    )
    gateway = next((s.name for s in platform.services if s.health_path), platform.services[0].name)
    state_bucket = platform.environments[production].state_bucket
    yield Scenario("happy-path", environment=production), check_happy_path
    yield (Scenario("no-state-bucket", environment=production, missing_state_bucket=True), check_no_push_no_apply(state_bucket))
    yield (
        Scenario("image-build-fails", environment=production, app_version="1.0.1", fail_builds=[images(platform)[0]]),
        check_build_failure(images(platform)[0]),
    )
    yield (
        Scenario("foreign-caller", environment=production, caller=f"{rehearsal.github['app_repository']}-fork"),
        check_no_push_no_apply("rejected by the attribute condition"),
    )
    unconfigured = "-".join(env.deploy_branch for env in platform.environments.values()) + "-feature"
    yield Scenario("unconfigured-branch", environment=production, branch=unconfigured), check_refused_ref(unconfigured)
    yield Scenario("unhealthy-service", environment=production, unhealthy=[gateway]), check_health_failure(gateway)
    yield Scenario("unprotected-environment", environment=production, unprotected_environment=True), check_unprotected_environment
    yield Scenario("private-infra", environment=production, private_infra="given"), check_private_infra
    yield Scenario("private-infra-without-token", environment=production, private_infra="missing"), check_private_infra_without_token
    yield Scenario("rerun-after-failure", environment=production, unhealthy=[gateway], rerun=True), check_rerun
    rollback = json.dumps({image: ROLLBACK_TAG for image in images(platform)})
    yield (Scenario("rollback-by-tag", environment=production, seed_tag=ROLLBACK_TAG, inputs={"image_tags": rollback}), check_rollback)
    never_built = json.dumps({image: "v0.0.1-0000000" for image in images(platform)})
    yield Scenario("rollback-to-unbuilt-tag", environment=production, inputs={"image_tags": never_built}), check_unbuilt_tag_refused
    yield (Scenario("drift-reported", environment=production, drift=True, drifted=["google_cloud_run_v2_service"]), check_drift(production))
    yield (Scenario("drift-merged-not-deployed", environment=production, drift=True, merged_after_deploy=True), check_drift(production, merged=True))
    yield Scenario("drift-check-fails", environment=production, drift=True, failing_plans=True), check_failed_drift_check(production)
    # A deploy reverts the console change and deploys the merged commit.
    yield Scenario("secret-rotation", environment=production, inputs={"rollout": "rotation-1"}), check_rotation
    yield Scenario("drift-clean", environment=production, drift=True), check_drift_clean(production)


def main() -> int:
    from gcp_twin import gcs_server as gcs_emulator
    from tests import fake_google_apis

    workdir = Path(tempfile.mkdtemp(prefix="rehearsal-"))
    gcs = gcs_emulator.start()
    google = fake_google_apis.start(gcs.url)
    failed = False
    try:
        rehearsal = Rehearsal(workdir, gcs, google)
        for scenario, check in scenarios(rehearsal):
            outcome = rehearsal.run(scenario)
            try:
                check(rehearsal, outcome)
                print(f"rehearsal {scenario.name}: ok", flush=True)
            except Failed as why:
                failed = True
                print(f"rehearsal {scenario.name}: FAILED {why}", flush=True)
    finally:
        google.stop()
        gcs_emulator.stop(gcs)
    if failed:
        print(f"rehearsal logs and records: {workdir}/world/<scenario>/", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
