"""Each construct alone in a fresh stack with a provider, as cdktf's
`Testing` examples do: small stacks synthesize in milliseconds once the
session (tests/conftest.py) has set up the provider bindings."""

from __future__ import annotations

import atexit
import inspect
import json
import shutil
import tempfile
import textwrap

from cdktf import TerraformStack, Testing
from cdktf_cdktf_provider_google.provider import GoogleProvider

PROJECT = "my-project"
REGION = "europe-west1"
MEMBER = f"serviceAccount:ci@{PROJECT}.iam.gserviceaccount.com"
EXAMPLE_MARKER = "Example::"
# Testing.app() without an outdir leaves a new /tmp/cdktf.outdir.* behind for every stack.
OUTDIR = tempfile.mkdtemp(prefix="cdktf-bare-stacks-")
atexit.register(shutil.rmtree, OUTDIR, ignore_errors=True)


def bare_stack() -> TerraformStack:
    stack = TerraformStack(Testing.app(outdir=OUTDIR), "test")
    GoogleProvider(stack, "google", project=PROJECT, region=REGION)
    return stack


def synth(stack: TerraformStack) -> dict:
    return json.loads(Testing.synth(stack))


def imports(stack_json: dict) -> dict[str, str]:
    """Import block target address -> import id."""
    return {block["to"]: block["id"] for block in stack_json.get("import", [])}


def docstring_example(cls: type) -> str:
    """The indented code block after `Example::` in the class docstring.

    `inspect.cleandoc` first: Python 3.13 strips a docstring's common
    indentation at compile time, earlier versions keep it."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    assert EXAMPLE_MARKER in doc, f"{cls.__name__}'s docstring has no {EXAMPLE_MARKER} block"
    lines = doc.split(EXAMPLE_MARKER, 1)[1].splitlines()[1:]
    block: list[str] = []
    for line in lines:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip()
