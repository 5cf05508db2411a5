"""The `emplan` command without a system: help in both languages everywhere, a start that imports
nothing heavy, and the CSV batching that keeps the file's own line numbers."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from emplan_tools.cli import cli
from emplan_tools.cli.api import ApiError
from emplan_tools.cli.bulk import _csv_batches, _remap

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda p: " ".join(p) or "emplan")
def test_every_help_is_in_chinese_and_english(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("用法 / Usage: emplan")
    # The description and every option line carry both languages.
    description = text.split("\n\n")[1]
    assert CJK.search(description), description
    assert LATIN_WORD.search(description), description
    options = text.split("选项 / Options:\n", 1)[1].split("\n\n")[0]
    for line in re.split(r"\n(?=  -)", options):
        assert CJK.search(line), line
        assert LATIN_WORD.search(line.split("  ", 2)[-1]), line


def test_help_imports_neither_httpx_nor_rich() -> None:
    probe = (
        "import sys\n"
        "from emplan_tools.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='emplan')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', sorted(m for m in ('httpx', 'rich', 'emplan_shared', 'sqlalchemy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "LOADED []"


def test_batches_keep_the_file_line_numbers() -> None:
    # Line 1 header; line 2 a record; lines 3–4 one record whose quoted source spans two lines;
    # line 5 blank (dropped); line 6 and 7 records.
    text = (
        "element_code,region_code,year,value,source\n"
        "ps_deaths,140902,2023,1,a\n"
        'ps_deaths,140921,2023,2,"two\nlines"\n'
        "\n"
        "ps_deaths,140922,2023,3,c\n"
        "ps_deaths,140923,2023,-4,d\n"
    )
    count, batches = _csv_batches(text, 2)
    assert count == 4
    first, second = list(batches)
    body, mapping, size = first
    assert size == 2
    assert body.decode().splitlines()[0] == "element_code,region_code,year,value,source"
    # In the first batch the two-line record spans the batch's lines 3–4: the file's line 4 is its end.
    assert mapping[2] == 2
    assert mapping[4] == 4
    body, mapping, size = second
    assert size == 2
    assert (mapping[2], mapping[3]) == (6, 7)
    errors = [{"line": 3, "code": "negative"}]
    _remap(errors, mapping, "line")
    assert errors == [{"line": 7, "code": "negative"}]


def test_empty_file_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        _csv_batches("\n\n", 10)
    assert caught.value.code == "empty_upload"


def test_missing_credentials_say_which_variables(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        cli,
        ["--url", "http://127.0.0.1:9", "login"],
        env={"EMPLAN_TOKEN": None, "EMPLAN_USERNAME": None, "EMPLAN_CLIENT_ID": None},
    )
    assert result.exit_code == 1
    assert "credentials_missing" in result.stderr
    assert "EMPLAN_TOKEN" in result.stderr
