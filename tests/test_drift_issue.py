"""The drift check's issues (tools/drift_issue.py) against the stand-in of
GitHub's REST API: one open issue per kind and environment, updated, closed
when clean, a failed check reported and closed by the next one that runs."""

from __future__ import annotations

import pytest

from tools.drift_issue import drift_title, failure_title, main

REPOSITORY = "Peleke/mindmirror-infra"
RUN_URL = "https://github.com/Peleke/mindmirror-infra/actions/runs/42"


@pytest.fixture
def github(fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    monkeypatch.setenv("RUN_URL", RUN_URL)
    return fake_github


def issues(github, state="open") -> list[tuple[str, str]]:
    """(title, body without the tool's hidden marker line) of each issue in that state."""
    return [(i["title"], i["body"].split("\n\n<!-- drift check:")[0]) for i in github.state["issues"] if i["state"] == state]


def report(tmp_path, env_name: str, outcome: str, body: str | None = None) -> int:
    argv = [env_name, outcome]
    if body is not None:
        path = tmp_path / "report.md"
        path.write_text(body)
        argv.append(str(path))
    return main(argv)


def test_drift_opens_one_issue_and_updates_it(platform, github, tmp_path, capsys):
    for env_name in platform.environments:
        assert report(tmp_path, env_name, "drift", "first plan") == 0
        assert report(tmp_path, env_name, "drift", "second plan") == 0
        assert (drift_title(env_name), "second plan") in issues(github)
        assert [i["labels"] for i in github.state["issues"] if i["title"] == drift_title(env_name)] == [[{"name": "drift"}]]
    assert len(issues(github)) == len(platform.environments)
    assert "opened #1" in capsys.readouterr().out


def test_clean_closes_the_environments_issue_only(platform, github, tmp_path, capsys):
    names = list(platform.environments)
    for env_name in names:
        report(tmp_path, env_name, "drift", f"plan of {env_name}")
    capsys.readouterr()
    assert report(tmp_path, names[0], "clean") == 0
    [closed] = [i for i in github.state["issues"] if i["state"] == "closed"]
    assert closed["title"] == drift_title(names[0]) and closed["state_reason"] == "completed"
    assert closed["comments"] == [f"No drift any more: {RUN_URL}"]
    assert len(issues(github)) == len(names) - 1
    assert report(tmp_path, names[0], "clean") == 0
    assert f"no drift in {names[0]}, no issue open" in capsys.readouterr().out


def test_a_failed_check_is_reported_until_a_check_runs(platform, github, tmp_path):
    for env_name in platform.environments:
        assert report(tmp_path, env_name, "failed") == 0
        assert report(tmp_path, env_name, "failed") == 0
        [(title, body)] = [(t, b) for t, b in issues(github) if env_name in t]
        assert title == failure_title(env_name) and RUN_URL in body
        assert report(tmp_path, env_name, "drift", "a plan") == 0
        assert [t for t, _ in issues(github) if env_name in t] == [drift_title(env_name)]
        assert (failure_title(env_name), body) in issues(github, "closed")


def test_a_pull_request_is_not_the_issue_and_the_label_is_not_needed(platform, github, tmp_path):
    env_name = next(iter(platform.environments))
    report(tmp_path, env_name, "drift", "plan")
    [issue] = github.state["issues"]
    # GitHub lists pull requests among issues, with a pull_request key.
    # Listed first (newest), with the same title: it must be passed over.
    github.state["issues"].append({**issue, "number": 99, "pull_request": {"url": "..."}, "body": "a pull request"})
    # Labels GitHub dropped (a token that cannot push): still the same issue.
    github.state["issues"][0]["labels"] = []
    report(tmp_path, env_name, "drift", "plan 2")
    assert [i["body"].split("\n")[0] for i in github.state["issues"]] == ["plan 2", "a pull request"]


def test_an_issue_a_person_opened_with_the_same_title_is_left_alone(platform, github, tmp_path):
    env_name = next(iter(platform.environments))
    github.state["issues"].append(
        {"repository": REPOSITORY, "number": 1, "title": drift_title(env_name), "body": "notes of a person", "state": "open", "labels": [], "comments": []}
    )
    assert report(tmp_path, env_name, "drift", "plan") == 0
    assert report(tmp_path, env_name, "clean") == 0
    mine, theirs = github.state["issues"][1], github.state["issues"][0]
    assert theirs["body"] == "notes of a person" and theirs["state"] == "open"
    assert mine["state"] == "closed" and mine["body"].startswith("plan")


def test_the_issue_is_found_past_the_first_page(platform, github, tmp_path):
    env_name = next(iter(platform.environments))
    report(tmp_path, env_name, "drift", "plan")
    for number in range(2, 152):
        github.state["issues"].append({**github.state["issues"][0], "number": number, "title": f"unrelated {number}"})
    assert report(tmp_path, env_name, "drift", "plan 2") == 0
    assert [i["number"] for i in github.state["issues"] if i["title"] == drift_title(env_name)] == [1]
    assert any("page=2" in r["path"] for r in github.state["requests"])


def test_a_refusal_is_one_line_naming_the_permission(platform, github, tmp_path, capsys):
    github.state["refusals"][f"/repos/{REPOSITORY}/issues"] = [403, {"message": "Resource not accessible by integration"}]
    assert report(tmp_path, next(iter(platform.environments)), "clean") == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "answered 403 (Resource not accessible by integration)" in line and "issues: write" in line


@pytest.mark.parametrize("argv", [[], ["production"], ["production", "maybe"], ["production", "drift"], ["production", "drift", "/no/such/file"]])
def test_bad_arguments_are_one_line(github, capsys, argv):
    assert main(argv) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
