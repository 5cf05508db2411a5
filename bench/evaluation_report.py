"""A province-wide evaluation round: about 120 counties, 30 indicators, 5,000 tasks.

Targets (issue 6): snapshot, scoring and the HTML report under 10 s; the .docx and the .xlsx under
5 s each. Measured in-process on the evaluation's own code (the domain and the renderers the
endpoints call), median of three runs, with a baseline in the same run: the same .docx tables built
cell by cell through python-docx's public API, which the renderer replaces with one XML fragment per
table.

"snapshot" is validating the stored snapshot (JSON, as the round row holds it) into the model; the
event-fed read model that will assemble it is not built yet, so its query time is not in here.

    .venv/bin/python bench/evaluation_report.py [--append-docs]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from docx import Document

from evaluation.domain.comparison import compare
from evaluation.domain.scheme import DEFAULT_SCHEME
from evaluation.domain.scoring import score
from evaluation.domain.snapshot import Snapshot
from evaluation.reports.data import RoundInfo, build_report, measure
from evaluation.reports.docx import render_docx
from evaluation.reports.html import render_html
from evaluation.reports.xlsx import render_xlsx

REPO = Path(__file__).resolve().parents[1]
STATUSES = ["met", "on_track", "lagging", "seriously_lagging", "no_data"]
TASK_STATUSES = ["not_started", "in_progress", "completed", "closed", "returned"]


def province_snapshot(
    seed: int, *, counties: int = 120, indicators: int = 30, tasks: int = 5000
) -> dict[str, Any]:
    rng = random.Random(seed)
    regions = [("140000", "山西省")] + [
        (f"14{city:02d}{county:02d}", f"第{city}市第{county - 20}县")
        for city in range(1, 13)
        for county in range(21, 21 + counties // 12)
    ]
    departments = [f"省直部门{n:02d}" for n in range(1, 41)]
    targets = []
    for code, name in regions:
        for i in range(1, indicators + 1):
            status = rng.choices(STATUSES, weights=[40, 30, 15, 10, 5])[0]
            baseline = rng.randint(10, 1000)
            targets.append(
                {
                    "target_id": f"I{i:02d}",
                    "indicator_name": f"指标{i:02d}",
                    "nature": "binding" if i <= 6 else "expected",
                    "unit": "%" if i % 3 == 0 else "人",
                    "region_code": code,
                    "region_name": name,
                    "lead_department": departments[i % 40] if code == "140000" else None,
                    "baseline_year": 2020,
                    "baseline_value": str(baseline),
                    "target_type": rng.choice(["decrease_pct", "max", "min"]),
                    "target_value": str(rng.randint(1, 95)),
                    "strict": False,
                    "current_value": None
                    if status == "no_data"
                    else f"{baseline * rng.uniform(0.7, 1.1):.2f}",
                    "required_value": f"{baseline * 0.9:.2f}",
                    "status": status,
                }
            )
    task_rows = []
    counties_only = regions[1:]
    for n in range(tasks):
        code, name = counties_only[n % len(counties_only)]
        status = rng.choices(TASK_STATUSES, weights=[10, 45, 25, 15, 5])[0]
        overdue = status in ("not_started", "in_progress", "returned") and rng.random() < 0.2
        task_rows.append(
            {
                "code": f"T{n:05d}",
                "title": f"重点任务{n:05d}：推进应急管理体系和能力现代化建设",
                "lead_department": departments[n % 40],
                "co_departments": [departments[(n + 7) % 40]],
                "region_code": code,
                "region_name": name,
                "deadline": (date(2023, 1, 1) + timedelta(days=n % 900)).isoformat(),
                "status": status,
                "light": "red" if overdue else rng.choice(["green", "green", "yellow"]),
                "overdue": overdue,
                "returned_count": 1 if status == "returned" else 0,
                "last_report": {"reported_on": "2023-06-20", "summary": "按计划推进，已完成阶段性工作。"},
            }
        )
    return {
        "plan": {
            "plan_id": "bench-province",
            "title": "山西省“十四五”应急管理体系规划",
            "region_code": "140000",
            "region_name": "山西省",
            "period_start": 2021,
            "period_end": 2025,
        },
        "reference_date": "2023-06-30",
        "targets": targets,
        "tasks": task_rows,
        "sources": {"EMPLAN_EVENTS": 1_234_567},
        "rules_version": "bench",
    }


CPU: dict[int, float] = {}


def timed(function: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    """Median wall time of `runs` calls; the median CPU time of the process goes to CPU[id(result)]
    so a loaded machine (others benchmarking on 2 cores) can be told from slow code."""
    times, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU[id(result)] = statistics.median(cpu)
    return statistics.median(times), result


def naive_docx(rows: list[list[str]], header: list[str]) -> bytes:
    """The baseline: python-docx's public API, one cell at a time."""
    document = Document()
    table = document.add_table(rows=1, cols=len(header))
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--append-docs", action="store_true", help="append the figures to docs/benchmarks.md")
    args = parser.parse_args()

    raw = json.dumps(province_snapshot(2026), ensure_ascii=False)
    previous_raw = json.dumps(province_snapshot(2025), ensure_ascii=False)
    counts = json.loads(raw)
    load = os.getloadavg()
    print(
        f"machine: nproc={os.cpu_count()} load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  python {sys.version.split()[0]}"
    )
    print(
        f"round: {len(counts['targets'])} targets ({len({t['region_code'] for t in counts['targets']}) - 1} counties"
        f" + the province, 30 indicators), {len(counts['tasks'])} tasks, snapshot {len(raw) / 1e6:.1f} MB of JSON"
    )

    t_snapshot, snapshot = timed(lambda: Snapshot.model_validate_json(raw))
    c_snapshot = CPU[id(snapshot)]
    previous = Snapshot.model_validate_json(previous_raw)
    previous_result = score(previous, DEFAULT_SCHEME)
    t_score, result = timed(lambda: score(snapshot, DEFAULT_SCHEME))
    c_score = CPU[id(result)]
    t_compare, comparison = timed(lambda: compare(result, previous_result, snapshot, previous))
    c_compare = CPU[id(comparison)]
    measures = [measure(f"问题{n}", f"措施{n}", "省应急管理厅", date(2024, 6, 30)) for n in range(30)]
    info = RoundInfo(
        title="山西省“十四五”应急管理体系规划中期评估报告",
        kind="mid_term",
        status="approved",
        scheme_name="默认评分方案",
    )
    t_data, data = timed(lambda: build_report(info, snapshot, result, measures, comparison))
    c_data = CPU[id(data)]
    t_html, html = timed(lambda: render_html(data))
    c_html = CPU[id(html)]
    t_docx, word = timed(lambda: render_docx(data))
    c_docx = CPU[id(word)]
    t_xlsx, sheet = timed(lambda: render_xlsx(data))
    c_xlsx = CPU[id(sheet)]
    overdue_rows = [
        [t.code, t.title, t.lead_department, t.region_name, t.deadline, t.status, t.light]
        for t in data.overdue_tasks
    ]
    header = ["编号", "任务", "牵头单位", "地区", "完成时限", "状态", "亮灯"]
    t_naive, _ = timed(lambda: naive_docx(overdue_rows, header), runs=1)

    from evaluation.reports.docx import _fast_table

    def fast_only() -> bytes:
        document = Document()
        _fast_table(document, header, overdue_rows)
        buffer = io.BytesIO()
        document.save(buffer)
        return buffer.getvalue()

    t_fast, _ = timed(fast_only)
    lines = sum(len(s.lines) for s in result.regions + result.departments)
    html_total = t_snapshot + t_score + t_compare + t_data + t_html
    html_cpu = c_snapshot + c_score + c_compare + c_data + c_html
    rows = [
        ("snapshot (validate stored JSON)", t_snapshot, c_snapshot),
        (
            f"scoring ({len(result.regions)} regions, {len(result.departments)} departments, {lines} lines)",
            t_score,
            c_score,
        ),
        ("comparison with the previous round", t_compare, c_compare),
        ("report data", t_data, c_data),
        (f"HTML ({len(html) / 1e6:.1f} MB, 4 SVG charts)", t_html, c_html),
    ]
    totals = [
        ("**snapshot + scoring + HTML** (target < 10 s)", html_total, html_cpu),
        (f"**.docx** ({len(word) / 1e3:.0f} kB; target < 5 s)", t_docx, c_docx),
        (f"**.xlsx** ({len(sheet) / 1e3:.0f} kB, 12 sheets; target < 5 s)", t_xlsx, c_xlsx),
    ]
    print(f"\n  {'step':<72} {'wall':>8} {'cpu':>8}")
    for label, seconds, cpu in rows + totals:
        print(f"  {label.replace('**', ''):<72} {seconds:7.3f}s {cpu:7.3f}s")
    ratio = t_naive / t_fast if t_fast else float("inf")
    print(
        f"  baseline: overdue-task table ({len(overdue_rows)} rows) cell by cell {t_naive:.3f} s"
        f" vs one XML fragment {t_fast:.3f} s ({ratio:.0f}× faster)"
    )
    ok = html_total < 10 and t_docx < 5 and t_xlsx < 5
    ok_cpu = html_cpu < 10 and c_docx < 5 and c_xlsx < 5
    verdict = (
        "targets met"
        if ok
        else "targets met in CPU time, missed in wall time (machine loaded)"
        if ok_cpu
        else "TARGETS MISSED"
    )
    print(verdict)

    if args.append_docs:
        path = REPO / "docs" / "benchmarks.md"
        section = [
            "",
            "## Evaluation report of a province round (`bench/evaluation_report.py`)",
            "",
            f"{date.today().isoformat()}, nproc={os.cpu_count()}, load {load[0]:.2f} at start, median of three runs,"
            " in-process (domain and renderers as the endpoints call them).",
            f"Round: {len(counts['targets'])} targets (120 counties and the province × 30 indicators),"
            f" {len(counts['tasks'])} tasks, 40 lead departments; snapshot {len(raw) / 1e6:.1f} MB of JSON.",
            "",
            "| step | wall | CPU |",
            "|---|---|---|",
            *[f"| {label} | {seconds:.3f} s | {cpu:.3f} s |" for label, seconds, cpu in rows + totals],
            "",
            f"Verdict: {verdict}. Wall time counts waiting for a core when other processes run (load above);"
            " CPU time is what the work itself costs.",
            f"Baseline in the same run: the .docx overdue-task table ({len(overdue_rows)} rows) built cell by cell"
            f" with python-docx's API took {t_naive:.3f} s, as one XML fragment {t_fast:.3f} s ({ratio:.0f}×)."
            " The event-fed read model that will assemble the snapshot is not built yet; its query time is not"
            " included.",
            "",
        ]
        with path.open("a", encoding="utf-8") as handle:
            if path.stat().st_size == 0:
                handle.write("# Benchmarks\n")
            handle.write("\n".join(section))
        print(f"appended to {path}")


if __name__ == "__main__":
    main()
