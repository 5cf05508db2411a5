"""Schemathesis over the merged OpenAPI document, through the gateway: every check, every phase
(examples, coverage, fuzzing, stateful), so an endpoint added later is fuzzed without anyone writing
a test for it. A failure prints schemathesis's report with a curl line to reproduce it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emplan_tools.stack import Stack

from .conftest import login

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fuzz_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A system of its own: the fuzzer creates regions, departments and definitions from the
    schema's examples (忻州市, 市应急局 …), which would make the other tests' names ambiguous."""
    # Always standalone servers: two systems on one external server would share database names.
    stack = Stack(tmp_path_factory.mktemp("fuzz-system"), free_ports=True)
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


# Every operation of five services, all phases: minutes, not seconds. The suite's 300 s default is
# for ordinary tests; this one has its own budget, and the subprocess its own timeout inside it.
@pytest.mark.timeout(1000)
def test_every_operation_survives_schemathesis(fuzz_system: Stack, tmp_path: Path) -> None:
    system = fuzz_system
    admin = login(system, roles=["system_admin"])
    seed = os.environ.get("EMPLAN_FUZZ_SEED", "1")
    examples = os.environ.get("EMPLAN_FUZZ_EXAMPLES", "25")
    workers = os.environ.get("EMPLAN_FUZZ_WORKERS", "2")
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
            "--workers",
            workers,
            "--header",
            f"Authorization: Bearer {admin.token}",
            "--report-dir",
            str(tmp_path),
            "--no-color",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
