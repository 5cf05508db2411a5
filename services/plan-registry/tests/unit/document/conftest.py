"""Paths to the real documents in the `shared` folder next to the repository (never copied in)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest


def _repo_root() -> Path | None:
    for folder in Path(__file__).resolve().parents:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "workspace" in tomllib.loads(pyproject.read_text()).get("tool", {}).get(
            "uv", {}
        ):
            return folder
    return None


def _shared(*parts: str) -> Path:
    root = _repo_root()
    if root is None:
        pytest.skip("no workspace pyproject.toml with [tool.uv.workspace] above the tests")
    folder = root.parent / "shared"
    path = folder.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the real documents live in the shared folder next to the repository")
    return path


@pytest.fixture(scope="session")
def seeds() -> Path:
    return _shared("seeds")


@pytest.fixture(scope="session")
def task_division() -> Path:
    return _shared("fixtures", "task-division")
