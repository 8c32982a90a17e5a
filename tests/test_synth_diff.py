"""The synth diff, on real synthesized output."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from tools.synth_diff import FORCES_REPLACEMENT, MARKER, MAX_REPORT_CHARS, REPLACEMENT_NOT_DESTRUCTIVE, blocks, diff_stack, diff_trees, render

from .conftest import ROOT, TEST_SERVICE
from .tfjson import resources


def by_name(diffs):
    return {d.name: d for d in diffs}


def drop_service(config: dict, name: str) -> None:
    config["services"] = [s for s in config["services"] if s["name"] != name]
    for service in config["services"]:
        service["calls"] = [c for c in service.get("calls", []) if c != name]


@pytest.fixture(scope="module")
def changed_platform(synthesize_variant) -> dict[str, dict]:
    def change(config):
        next(s for s in config["services"] if s["name"] == "meals-service")["port"] = 8080
        drop_service(config, "movements-service")
        config["environments"]["production"]["state_bucket"] += "-v2"

    return synthesize_variant(change)


def test_identical_trees_report_no_changes(stacks):
    report = render(diff_trees(stacks, copy.deepcopy(stacks)))
    assert report.splitlines() == [MARKER, "## Synth diff", "", "No changes: every synthesized stack is identical."]


def test_report_says_exactly_what_changed(stacks, changed_platform, platform):
    diffs = by_name(diff_trees(stacks, changed_platform))
    old_bucket = platform.environments["production"].state_bucket
    new_bucket = f"{old_bucket}-v2"
    old_port = platform.service("meals-service").port

    bootstrap = diffs["bootstrap-production"]
    assert not bootstrap.added
    # The service's identity, grants and URL secret are the admin-applied stack's.
    assert bootstrap.removed == sorted(a for a in blocks(stacks["bootstrap-production"]) if "movements" in a.lower())
    assert {a.split(".")[0] for a in bootstrap.removed} >= {"google_service_account", "google_secret_manager_secret"}
    [(bucket, changes)] = bootstrap.changed.items()
    assert bucket.startswith("google_storage_bucket.state-bucket")
    assert [(c.path, c.old, c.new, c.destructive) for c in changes] == [("name", old_bucket, new_bucket, True)]
    staging = diffs["bootstrap-staging"]
    assert not staging.added and not staging.changed
    assert staging.removed == sorted(a for a in blocks(stacks["bootstrap-staging"]) if "movements" in a.lower())

    app = diffs["app-production"]
    assert app.added == []
    removed_types = {address.split(".")[0] for address in app.removed}
    assert {"google_cloud_run_v2_service", "google_secret_manager_secret_version"} <= removed_types
    assert app.removed == sorted(a for a in blocks(stacks["app-production"]) if "movements" in a.lower() and not a.startswith("data."))
    # The image it ran is no longer read: a data source destroys nothing.
    assert app.dropped == ["data.google_artifact_registry_docker_image.image-check-movements_service"]
    meals = next(a for a in app.changed if a.startswith("google_cloud_run_v2_service.meals-service"))
    assert [(c.path, c.old, c.new) for c in app.changed[meals]] == [("template.containers[0].ports.container_port", old_port, 8080)]
    assert [(c.path, c.new, c.destructive) for c in app.changed["terraform"]] == [("backend.gcs.bucket", new_bucket, True)]
    users = next(a for a in app.changed if a.startswith("google_cloud_run_v2_service.users-service"))
    assert [c.path for c in app.changed[users]] == ["template.containers[0].env[name=MOVEMENTS_SERVICE_URL]"]
    assert "variable" in app.changed and "output" in app.changed
    assert app.destructive and bootstrap.destructive

    report = render(diff_trees(stacks, changed_platform))
    assert f"### bootstrap-production: 0 added, {len(bootstrap.removed)} removed, 1 changed ⚠" in report
    assert f'  - ⚠ `name`: `"{old_bucket}"` → `"{new_bucket}"` (forces replacement)' in report
    assert f"  - `template.containers[0].ports.container_port`: `{old_port}` → `8080`" in report
    assert (
        "Dropped (nothing destroyed: data sources no longer read, other blocks):\n- `data.google_artifact_registry_docker_image.image-check-movements_service`"
        in report
    )
    assert "⚠ `data." not in report
    # Dropping a service removes resources from every stack.
    assert f"**Destructive changes (⚠) in: {', '.join(sorted(stacks))}.**" in report


def test_metadata_is_ignored(stacks):
    head = copy.deepcopy(stacks)
    head["app-staging"]["//"]["metadata"]["version"] = "9.9.9"
    for body in resources(head["app-staging"], "google_service_account").values():
        body["//"]["metadata"]["path"] = "elsewhere"
    assert {d.status for d in diff_trees(stacks, head)} == {"unchanged"}


def some_resource(stacks: dict, resource_type: str) -> tuple[str, str]:
    for stack_name, stack in stacks.items():
        for name in resources(stack, resource_type):
            return stack_name, name
    raise AssertionError(f"no {resource_type} in the default stacks")


# Attributes that are ForceNew in the google provider v6.50.0's schemas
# (google/services/<product>/resource_*.go), read there, not from the table
# under test: a change to any of them destroys and re-creates the resource.
PROVIDER_FORCE_NEW = [
    ("google_storage_bucket", "location"),
    ("google_storage_bucket", "name"),
    ("google_artifact_registry_repository", "format"),
    ("google_artifact_registry_repository", "repository_id"),
    ("google_service_account", "account_id"),
    ("google_cloud_run_v2_service", "location"),
    ("google_cloud_run_v2_service", "name"),
    ("google_secret_manager_secret", "replication"),
    ("google_secret_manager_secret", "secret_id"),
    ("google_project_iam_custom_role", "role_id"),
]


@pytest.mark.parametrize("resource_type, attribute", PROVIDER_FORCE_NEW)
def test_replacement_table_entry_is_flagged_destructive(stacks, resource_type, attribute):
    stack_name, name = some_resource(stacks, resource_type)
    head = copy.deepcopy(stacks)
    head[stack_name]["resource"][resource_type][name][attribute] = "changed-by-test"
    [stack_diff] = [d for d in diff_trees(stacks, head) if d.status == "changed"]
    [change] = stack_diff.changed[f"{resource_type}.{name}"]
    assert change.path == attribute and change.destructive


def test_in_place_changes_are_not_destructive(stacks):
    head = copy.deepcopy(stacks)
    stack_name, name = some_resource(stacks, "google_storage_bucket")
    head[stack_name]["resource"]["google_storage_bucket"][name]["labels"]["team"] = "platform"
    _, member = some_resource(stacks, "google_storage_bucket_iam_member")
    head[stack_name]["resource"]["google_storage_bucket_iam_member"][member]["role"] = "roles/storage.objectViewer"
    diffs = [d for d in diff_trees(stacks, head) if d.status == "changed"]
    assert len(diffs) == 1 and not diffs[0].destructive


def test_added_and_removed_stacks(stacks):
    head = copy.deepcopy(stacks)
    head["app-qa"] = head.pop("app-staging")
    diffs = by_name(diff_trees(stacks, head))
    assert diffs["app-qa"].status == "added" and not diffs["app-qa"].destructive
    assert diffs["app-staging"].status == "removed" and diffs["app-staging"].destructive
    report = render(list(diffs.values()))
    assert "### app-qa (new stack):" in report
    assert "### app-staging (stack removed):" in report


def test_long_reports_are_truncated_with_a_note(stacks):
    head = copy.deepcopy(stacks)
    services = head["app-production"]["resource"]["google_cloud_run_v2_service"]
    template = next(iter(services.values()))
    for index in range(3000):
        services[f"generated_{index:04d}"] = template
    report = render(diff_trees(stacks, head))
    assert len(report) <= MAX_REPORT_CHARS + 200
    assert report.rstrip().endswith("Run `make synth-diff` locally for all of it.")


def test_report_is_deterministic(stacks, changed_platform):
    shuffled = {name: json.loads(json.dumps(stack, sort_keys=True)) for name, stack in reversed(list(changed_platform.items()))}
    assert render(diff_trees(stacks, changed_platform)) == render(diff_trees(stacks, shuffled))


def write_tree(root, stacks):
    for name, stack in stacks.items():
        path = root / "stacks" / name / "cdk.tf.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(stack))
    return root


def test_command_fails_on_destructive_only_when_asked(tmp_path, stacks, changed_platform):
    base = write_tree(tmp_path / "base", stacks)
    head = write_tree(tmp_path / "head", changed_platform)
    command = [sys.executable, "-m", "tools.synth_diff", str(base), str(head)]
    plain = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    strict = subprocess.run([*command, "--fail-on-destructive"], cwd=ROOT, capture_output=True, text=True)
    assert plain.returncode == 0 and plain.stdout.startswith(MARKER)
    assert strict.returncode == 3 and strict.stdout == plain.stdout
    assert "destructive changes found" in strict.stderr


def test_a_move_between_stacks_is_reported_as_a_move(stacks, choices):
    """Layout 1 -> admin-applied bootstrap (move_to_bootstrap): forgotten in
    the app stack with `removed` (destroy = false), imported in the bootstrap.
    The base is layout 1: the moved addresses in the app stack, not in the bootstrap."""
    base = copy.deepcopy(choices)
    moved = [b["from"] for b in base["app-staging"].pop("removed")]
    for address in moved:
        resource_type, name = address.split(".")
        base["app-staging"]["resource"].setdefault(resource_type, {})[name] = {"layout": 1}
        base["bootstrap-staging"]["resource"].get(resource_type, {}).pop(name, None)
    base["bootstrap-staging"]["import"] = stacks["bootstrap-staging"]["import"]
    diffs = by_name(diff_trees(base, choices))
    app = diffs["app-staging"]
    assert not app.removed and not app.destructive
    assert sorted(app.moved_out) == sorted(moved)
    assert set(app.moved_out.values()) == {"moved to bootstrap-staging"}
    bootstrap = diffs["bootstrap-staging"]
    imported = {e["to"] for e in choices["bootstrap-staging"]["import"]} & set(moved)
    assert imported and imported == set(bootstrap.imported)
    assert not bootstrap.destructive
    report = render(list(diffs.values()))
    assert "Moved out (forgotten here, kept in Google Cloud: `removed` with destroy = false):" in report
    assert f"- `{moved[0]}` → moved to bootstrap-staging" in report
    assert f"- `{sorted(imported)[0]}` (imported: adopts what exists)" in report


def test_safety_switched_off_is_destructive():
    service = {"name": "gateway", "deletion_protection": True, "lifecycle": {"prevent_destroy": True}}
    unprotected = {"name": "gateway", "deletion_protection": False, "lifecycle": {}}
    diff = diff_stack(
        "app-x", {"resource": {"google_cloud_run_v2_service": {"gw": service}}}, {"resource": {"google_cloud_run_v2_service": {"gw": unprotected}}}
    )
    assert diff.destructive
    assert {c.risk for c in diff.changed["google_cloud_run_v2_service.gw"]} == {"deletion protection turned off", "prevent_destroy removed"}
    protected_again = diff_stack(
        "app-x", {"resource": {"google_cloud_run_v2_service": {"gw": unprotected}}}, {"resource": {"google_cloud_run_v2_service": {"gw": service}}}
    )
    assert not protected_again.destructive


def test_force_destroy_switched_on_is_destructive():
    bucket = {"name": "state", "force_destroy": False}
    diff = diff_stack(
        "bootstrap-x", {"resource": {"google_storage_bucket": {"b": bucket}}}, {"resource": {"google_storage_bucket": {"b": {**bucket, "force_destroy": True}}}}
    )
    assert diff.destructive
    assert [c.risk for c in diff.changed["google_storage_bucket.b"]] == ["force_destroy turned on: a destroy deletes every object"]
    left_out = diff_stack(
        "bootstrap-x", {"resource": {"google_storage_bucket": {"b": bucket}}}, {"resource": {"google_storage_bucket": {"b": {"name": "state"}}}}
    )
    assert not left_out.destructive  # the provider's default is false


def test_iam_removed_is_named_and_destructive():
    binding = {"role": "roles/run.invoker", "members": ["allUsers", "serviceAccount:a@p.iam.gserviceaccount.com"]}
    base = {"resource": {"google_service_account_iam_binding": {"b": binding}, "google_cloud_run_v2_service_iam_member": {"m": {"member": "allUsers"}}}}
    head = {"resource": {"google_service_account_iam_binding": {"b": {**binding, "members": binding["members"][:1]}}}}
    diff = diff_stack("app-x", base, head)
    assert diff.destructive
    assert [c.risk for c in diff.changed["google_service_account_iam_binding.b"]] == ["IAM member removed: access revoked"]
    assert "`google_cloud_run_v2_service_iam_member.m` (IAM grant removed: access revoked)" in render([diff])


def test_shortened_values_are_shown_in_full_collapsed():
    long_old, long_new = "a" * 200, "a" * 199 + "b"
    diff = diff_stack("app-x", {"resource": {"t": {"x": {"v": long_old}}}}, {"resource": {"t": {"x": {"v": long_new}}}})
    report = render([diff])
    assert "<details><summary>Full values of the shortened changes</summary>" in report
    assert f'- "{long_old}"' in report and f'+ "{long_new}"' in report


def test_every_synthesized_resource_type_has_a_replacement_entry(stacks, choices):
    """A new resource type must be placed in FORCES_REPLACEMENT or, with its
    reason, in REPLACEMENT_NOT_DESTRUCTIVE: otherwise its replacements would
    pass the diff silently."""
    types = {kind for tree in (stacks, choices) for stack in tree.values() for kind in stack.get("resource", {})}
    unlisted = types - set(FORCES_REPLACEMENT) - REPLACEMENT_NOT_DESTRUCTIVE
    assert not unlisted, f"add these to tools/synth_diff.py's tables: {sorted(unlisted)}"


@pytest.fixture(scope="module")
def added_service(synthesize_variant) -> dict[str, dict]:
    """The default platform plus one service the gateway calls, nothing else."""

    def change(config):
        config["services"].append(copy.deepcopy(TEST_SERVICE))
        next(s for s in config["services"] if s["name"] == "gateway")["calls"].append("test-svc")

    return synthesize_variant(change)


def test_adding_a_service_is_not_destructive(tmp_path, stacks, added_service, platform):
    """The JSON of every URL (service-urls-<env>) gets a new version: replaced,
    nothing lost; the strict command passes."""
    diffs = by_name(diff_trees(stacks, added_service))
    assert not any(d.destructive for d in diffs.values()), [d.name for d in diffs.values() if d.destructive]
    for env_name in platform.environments:
        app = diffs[f"app-{env_name}"]
        [all_urls] = [a for a in app.changed if a.startswith("google_secret_manager_secret_version.url-secret-all")]
        [change] = app.changed[all_urls]
        assert (change.path, change.destructive) == ("secret_data", False)
        assert change.note == "replaced by a new version of a value the stack writes: not destructive"
    report = render(list(diffs.values()))
    assert "(replaced by a new version of a value the stack writes: not destructive)" in report
    assert "Destructive changes" not in report
    base = write_tree(tmp_path / "base", stacks)
    head = write_tree(tmp_path / "head", added_service)
    strict = subprocess.run([sys.executable, "-m", "tools.synth_diff", str(base), str(head), "--fail-on-destructive"], cwd=ROOT, capture_output=True, text=True)
    assert strict.returncode == 0, strict.stderr


def test_a_secret_version_moved_to_another_secret_is_still_destructive():
    version = {"secret": "projects/p/secrets/A_URL", "secret_data": "https://a"}
    diff = diff_stack(
        "app-x",
        {"resource": {"google_secret_manager_secret_version": {"v": version}}},
        {"resource": {"google_secret_manager_secret_version": {"v": {**version, "secret": "projects/p/secrets/B_URL"}}}},
    )
    assert [c.risk for c in diff.changed["google_secret_manager_secret_version.v"]] == ["forces replacement"]


def test_blocks_that_destroy_nothing_when_they_go_are_dropped_not_removed():
    base = {
        "data": {"google_project": {"project": {"project_id": "p"}}},
        "variable": {"x": {"type": "string"}},
        "removed": [{"from": "google_storage_bucket.b", "lifecycle": {"destroy": False}}],
        "resource": {"google_storage_bucket": {"b": {"name": "b"}}},
    }
    diff = diff_stack("app-x", base, {})
    assert diff.removed == ["google_storage_bucket.b"]
    assert diff.dropped == ["data.google_project.project", "removed", "variable"]
    only_reads = diff_stack("app-x", {"data": base["data"]}, {})
    assert not only_reads.destructive and only_reads.status == "changed"
