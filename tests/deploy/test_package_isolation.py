"""Each service installs alone, with only its own declared dependencies, and its app builds.

In the shared workspace venv a service could import a package that only a sibling declares; its
container would then fail at start. This installs each service the way its image does
(`uv sync --package <service> --no-dev`) into a venv of its own and builds the app there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "plan-registry": "plan_registry",
    "indicator-engine": "indicator_engine",
    "task-assignment": "task_assignment",
    "evaluation": "evaluation",
    "gateway": "gateway",
}


def _uv() -> str:
    found = shutil.which("uv") or str(REPO_ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (make installs it under .tools/)")
    return found


@pytest.mark.parametrize(("service", "package"), sorted(SERVICES.items()))
def test_service_installs_and_builds_on_its_own(service: str, package: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = os.environ | {"UV_PROJECT_ENVIRONMENT": str(venv), "UV_LINK_MODE": "copy"}
    env.pop("VIRTUAL_ENV", None)
    sync = subprocess.run(
        [_uv(), "sync", "--frozen", "--no-dev", "--package", service, "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sync.returncode == 0, sync.stderr
    # Building the app imports every module the service uses at start-up.
    probe = f"from {package}.app import create_app; import {package}.__main__; create_app()"
    built = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        cwd=tmp_path,
        env=env | {"EMPLAN_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr[-3000:]
