"""The `emplan` commands' work: region lists, statistics in batches with a progress bar, evaluation
rounds, downloads, the health view. Loaded only when a command runs."""

from __future__ import annotations

import codecs
import csv
import io
import json
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from emplan_tools.cli.api import Api, ApiError

stderr = Console(stderr=True)

VALUES_UPLOAD = "/api/v1/indicators/values/upload"
REGIONS = "/api/v1/directory/regions"
ROUNDS = "/api/v1/evaluations/rounds"
SNIFF_BYTES = 64 * 1024

_REGION_COLUMNS = {
    "code": ("code", "代码", "区划代码", "行政区划代码"),
    "name": ("name", "名称", "区划名称"),
    "level": ("level", "级别", "层级"),
    "parent_code": ("parent_code", "parent", "上级代码", "上级"),
}


class RateColumn(ProgressColumn):
    """Rows a second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            "-- 行/s rows/s" if speed is None else f"{speed:,.0f} 行/s rows/s", style="progress.data.speed"
        )


@contextmanager
def counting(description: str, total: int | None, *, enabled: bool = True) -> Iterator[tuple[Progress, Any]]:
    """A progress bar on stderr with done/total, rate, elapsed and remaining time."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=not enabled,
        transient=False,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield progress, task


def _decode(raw: bytes) -> str:
    """UTF-8 (BOM or not) when the first 64 KiB decode as such, else GB18030 (what Excel writes on
    Chinese Windows): the same rule the service applies to uploads."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw[:SNIFF_BYTES], final=False)
    except UnicodeDecodeError:
        return raw.decode("gb18030")
    return raw.decode("utf-8-sig")


def _normalise(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().casefold()


# ---------------------------------------------------------------------------------------------------
# Regions


def load_regions_csv(api: Api, path: Path) -> dict[str, Any]:
    text = _decode(path.read_bytes())
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise ApiError(400, "empty_upload", "文件为空 / the file is empty")
    lookup = {_normalise(alias): column for column, aliases in _REGION_COLUMNS.items() for alias in aliases}
    positions: dict[str, int] = {}
    for index, heading in enumerate(rows[0]):
        column = lookup.get(_normalise(heading))
        if column is None and heading.strip():
            raise ApiError(400, "unknown_column", f"表头含未知的列 / unknown column: {heading}")
        if column is not None:
            positions[column] = index
    missing = [c for c in ("code", "name", "level") if c not in positions]
    if missing:
        raise ApiError(400, "missing_column", f"表头缺少必需的列 / missing columns: {', '.join(missing)}")
    records = [
        (number, cells) for number, cells in enumerate(rows[1:], start=2) if any(c.strip() for c in cells)
    ]
    created = existing = 0
    failures: list[dict[str, Any]] = []
    with counting("区划 regions", len(records)) as (progress, task):
        for number, cells in records:

            def cell(column: str, cells: list[str] = cells) -> str | None:
                index = positions.get(column)
                value = cells[index].strip() if index is not None and index < len(cells) else ""
                return value or None

            body = {
                "code": cell("code"),
                "name": cell("name"),
                "level": cell("level"),
                "parent_code": cell("parent_code"),
            }
            try:
                api.request("POST", REGIONS, json=body)
                created += 1
            except ApiError as exc:
                if exc.status == 409:
                    existing += 1
                else:
                    failures.append({"row": number, "code": exc.code, "detail": exc.detail})
            progress.advance(task)
    return {"created": created, "existing": existing, "failed": len(failures), "failures": failures}


# ---------------------------------------------------------------------------------------------------
# Statistics


def _csv_batches(text: str, rows_per_request: int) -> tuple[int, Iterator[tuple[bytes, list[int], int]]]:
    """The data rows in batches, each a UTF-8 CSV with the header: (body, original line number of each
    record by its line number in the batch, number of records). Blank lines are dropped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    for cells in reader:
        if header is None:
            if any(c.strip() for c in cells):
                header = cells
            continue
        if any(c.strip() for c in cells):
            records.append((reader.line_num, cells))
    if header is None:
        raise ApiError(400, "empty_upload", "文件为空或没有表头 / the file is empty or has no header")
    assert header is not None
    first_row: list[str] = header

    def batches() -> Iterator[tuple[bytes, list[int], int]]:
        for start in range(0, len(records), rows_per_request):
            chunk = records[start : start + rows_per_request]
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(first_row)
            for _, cells in chunk:
                writer.writerow(cells)
            body = buffer.getvalue()
            # Line numbers as the service counts them in this batch → the file's own.
            mapping = [0, 1]
            again = csv.reader(io.StringIO(body, newline=""))
            next(again)
            for (original, _), _cells in zip(chunk, again, strict=True):
                while len(mapping) <= again.line_num:
                    mapping.append(original)
            yield body.encode(), mapping, len(chunk)

    return len(records), batches()


def _sum_reports(total: dict[str, Any], report: dict[str, Any]) -> None:
    for key in (
        "rows_total",
        "rows_inserted",
        "rows_updated",
        "rows_unchanged",
        "rows_rejected",
        "rows_flagged",
    ):
        total[key] += int(report.get(key, 0))


def _remap(rows: list[dict[str, Any]], mapping: list[int], key: str) -> None:
    for row in rows:
        local = row.get(key)
        if isinstance(local, int) and 0 <= local < len(mapping):
            row[key] = mapping[local]


def load_values(
    api: Api, path: Path, *, rows_per_request: int, partial: bool, progress: bool
) -> dict[str, Any]:
    raw = path.read_bytes()
    params = {"partial": str(partial).lower()}
    total: dict[str, Any] = {
        "file": str(path),
        "partial": partial,
        "requests": 0,
        "batch_ids": [],
        "rows_total": 0,
        "rows_inserted": 0,
        "rows_updated": 0,
        "rows_unchanged": 0,
        "rows_rejected": 0,
        "rows_flagged": 0,
        "rejected": [],
    }
    if raw.startswith(b"PK\x03\x04"):
        # .xlsx: one request (the service reads the sheet streaming); the bar counts the file.
        with counting("统计数据 values (.xlsx)", 1, enabled=progress) as (bar, task):
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            report = api.json("POST", VALUES_UPLOAD, params=params, files={"file": (path.name, raw, media)})
            bar.advance(task)
        _sum_reports(total, report)
        total["requests"] = 1
        total["batch_ids"] = [report["batch_id"]] if report.get("batch_id") else []
        total["rejected"] = report.get("rejected", [])
        return total
    count, batches = _csv_batches(_decode(raw), rows_per_request)
    with counting("统计数据 values", count, enabled=progress) as (bar, task):
        for body, mapping, size in batches:
            try:
                report = api.json(
                    "POST", VALUES_UPLOAD, params=params, files={"file": (path.name, body, "text/csv")}
                )
            except ApiError as exc:
                _remap(exc.errors, mapping, "line")
                exc.detail += (
                    f"（此前 {total['rows_total']} 行已导入 / {total['rows_total']} rows before this batch "
                    "are loaded）"
                )
                raise
            _remap(report.get("rejected", []), mapping, "row")
            _sum_reports(total, report)
            total["requests"] += 1
            if report.get("batch_id"):
                total["batch_ids"].append(report["batch_id"])
            total["rejected"].extend(report.get("rejected", []))
            bar.advance(task, size)
    return total


# ---------------------------------------------------------------------------------------------------
# Evaluation rounds


def start_round(
    api: Api,
    plan_id: str,
    kind: str,
    reference_date: str,
    title: str | None,
    snapshot: Path | None,
    wait: float,
) -> dict[str, Any]:
    body: dict[str, Any] = {"plan_id": plan_id, "kind": kind, "reference_date": reference_date}
    if title:
        body["title"] = title
    deadline = time.monotonic() + wait
    while True:
        try:
            created: dict[str, Any] = api.json("POST", ROUNDS, json=body)
            break
        except ApiError as exc:
            # The plan's publication travels as an event; it may not have arrived yet.
            if exc.code != "plan_not_published" or time.monotonic() > deadline:
                raise
            time.sleep(0.25)
    if snapshot is not None:
        data = json.loads(snapshot.read_text(encoding="utf-8"))
        api.json("POST", f"{ROUNDS}/{created['id']}/snapshot", json=data)
        created = api.json("GET", f"{ROUNDS}/{created['id']}")
    return created


# ---------------------------------------------------------------------------------------------------
# Downloads and health


def download(api: Api, path: str, params: dict[str, str], target: Path) -> int:
    """Streams a file to `target` with a byte progress bar; returns its size."""
    headers = {"Authorization": f"Bearer {api.login()}"}
    with api.client.stream("GET", path, params=params, headers=headers) as response:
        if response.status_code >= 400:
            response.read()
            raise ApiError.of(response)
        length = response.headers.get("content-length")
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=stderr,
        )
        size = 0
        partial = target.with_name(target.name + ".part")
        with progress, partial.open("wb") as out:
            task = progress.add_task(target.name, total=int(length) if length else None)
            for chunk in response.iter_bytes():
                out.write(chunk)
                size += len(chunk)
                progress.advance(task, len(chunk))
        partial.replace(target)
    return size


def health_details(api: Api) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api.login()}"}
    response = api.client.get("/readyz/details", headers=headers)
    if response.status_code not in (200, 503):
        raise ApiError.of(response)
    details: dict[str, Any] = response.json()
    return details


def render_health(details: dict[str, Any]) -> None:
    from rich.table import Table

    console = Console()
    table = Table(title=f"emplan 依赖状态 / dependencies: {details.get('status')}")
    for column in ("服务 service", "状态 status", "检查 checks", "发件箱积压 outbox", "消费者 consumers"):
        table.add_column(column)

    def row(name: str, item: dict[str, Any]) -> None:
        checks = ", ".join(f"{k}={v}" for k, v in (item.get("checks") or {}).items()) or item.get("error", "")
        outbox = item.get("outbox") or {}
        backlog = outbox.get("backlog")
        age = outbox.get("oldest_unpublished_age_seconds")
        consumers = "; ".join(
            f"{durable}: pending {c.get('pending')}, ack {c.get('ack_pending')}, dead {c.get('dead_letters')}"
            for durable, c in (item.get("consumers") or {}).items()
        )
        outbox_text = "-" if backlog is None else f"{backlog}" + (f" ({age:.0f}s)" if backlog and age else "")
        style = "green" if item.get("status") == "ready" else "red"
        table.add_row(name, f"[{style}]{item.get('status')}[/]", checks, outbox_text, consumers or "-")

    row(str(details.get("service", "gateway")), details)
    for name, item in (details.get("services") or {}).items():
        row(name, item)
    console.print(table)
