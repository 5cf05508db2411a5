"""Schemathesis over the merged OpenAPI document, through the gateway: every check, every phase
(examples, coverage, fuzzing, stateful), so an endpoint added later is fuzzed without anyone writing
a test for it. A failure prints schemathesis's report with a curl line to reproduce it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emplan_tools.stack import Stack

from .conftest import Login

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_operation_survives_schemathesis(system: Stack, admin: Login, tmp_path: Path) -> None:
    seed = os.environ.get("EMPLAN_FUZZ_SEED", "1")
    examples = os.environ.get("EMPLAN_FUZZ_EXAMPLES", "40")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{system.gateway_url}/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            examples,
            "--seed",
            seed,
            "--header",
            f"Authorization: Bearer {admin.token}",
            "--report-dir",
            str(tmp_path),
            "--no-color",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
