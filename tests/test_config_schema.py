"""config/platform.schema.json: generated from the model, committed up to
date, documenting every field, and accepting the default configuration."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from platform_config import DEFAULT_CONFIG, schema
from platform_config.schema import SCHEMA_FILE, schema_text

from .conftest import ROOT
from .needs import unavailable

# The main environment has no JSON-schema validator (and none is added for
# this); checkov's own environment, installed for `make test`, has one.
VALIDATOR_PYTHONS = (sys.executable, str(ROOT / ".tools" / "checkov" / "bin" / "python"))

VALIDATE = """
import json, sys
import jsonschema
schema, documents = json.load(sys.stdin)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
print(json.dumps([sorted(error.message for error in validator.iter_errors(document)) for document in documents]))
"""


def test_committed_schema_is_the_generated_one():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), "config/platform.schema.json is stale; run `make schema`"


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_generation_does_not_depend_on_set_order(hash_seed):
    """Sets (the regions, ...) iterate in another order in each process; the
    schema must not."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-m", "platform_config.schema", "--check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_check_reports_a_stale_file_in_one_line(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "platform.schema.json"
    monkeypatch.setattr(schema, "SCHEMA_FILE", stale)
    monkeypatch.setattr(schema, "DEFAULT_CONFIG", tmp_path / "config" / "platform.yaml")
    for content in (None, "{}\n"):
        if content is not None:
            stale.write_text(content)
        assert schema.main(["--check"]) == 1
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and "run `make schema`" in lines[0], lines
    assert schema.main([]) == 0
    assert stale.read_text() == schema_text()
    assert schema.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def _objects(node):
    """Every object schema with properties, wherever it is nested."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_every_field_is_documented():
    generated = json.loads(schema_text())
    objects = list(_objects(generated))
    assert {o.get("title") for o in objects} >= {"Platform", "Environment", "Service", "GitHub", "Probe"}
    undocumented = [f"{o['title']}.{name}" for o in objects for name, field in o["properties"].items() if not field.get("description", "").strip()]
    assert not undocumented, f"fields without Field(description=...): {undocumented}"
    assert all(o.get("description") for o in objects), "every model has a docstring"


def test_the_default_configuration_names_its_schema():
    first_line = DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema=./{SCHEMA_FILE.name}"


def _validator_python() -> str:
    for python in VALIDATOR_PYTHONS:
        try:
            found = subprocess.run([python, "-c", "import jsonschema"], capture_output=True, timeout=60, check=False)
        except OSError:
            continue
        if found.returncode == 0:
            return python
    unavailable("no JSON-schema validator (jsonschema) installed in the project or checkov environment")


def _schema_errors(documents: list[dict]) -> list[list[str]]:
    payload = json.dumps([json.loads(SCHEMA_FILE.read_text(encoding="utf-8")), documents])
    result = subprocess.run([_validator_python(), "-c", VALIDATE], input=payload, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_default_configuration_validates_and_bad_values_do_not(raw_config):
    """The schema accepts the default configuration and catches, as the model
    does, an unknown key, a wrong type, a bad pattern and an unknown region."""
    env_name = next(iter(raw_config["environments"]))
    unknown_key, wrong_type, bad_pattern, bad_region = (copy.deepcopy(raw_config) for _ in range(4))
    unknown_key["services"][0]["prot"] = 8000
    wrong_type["services"][0]["port"] = "8000"
    bad_pattern["services"][0]["name"] = "Not_A_Service"
    bad_region["environments"][env_name]["region"] = "mars-north9"
    errors = _schema_errors([raw_config, unknown_key, wrong_type, bad_pattern, bad_region])
    assert errors[0] == [], errors[0]
    assert all(errors[1:]), errors
