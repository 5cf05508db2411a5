"""Evaluation end to end through the gateway: a plan arrives as `plan.published` on the real broker,
a mid-term round of the hand-made city plan (三 counties, five indicators with the binding one missed
in 翼城县, twenty tasks, four overdue, three returned) gives the scores and ranking worked out on
paper in services/evaluation/tests/unit/test_domain_scoring.py, a correction after approval shows
only in the next round, and the published report is readable without a token (in a real headless
Chromium too) while an unpublished one is not.

`TestCityMidTermRound` feeds the twenty-target, twenty-task scenario through the system
administrator's override (`POST …/rounds/{id}/snapshot`); `TestRoundFromEvents` runs a smaller city
whose figures all come from events: data entered and approved through indicator-engine, tasks reported
on through task-assignment, both through the gateway, and the round's snapshot taken from the
evaluation's read model.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from emplan_shared.events import catalogue, payloads
from emplan_tools.stack import Stack

from .conftest import Login, login

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "services" / "evaluation" / "tests" / "data" / "city_midterm_snapshot.json"
CITY = "141000"
ROUNDS = "/api/v1/evaluations/rounds"
PUBLIC = "/api/v1/evaluations/public/rounds"


async def announce_plan(system: Stack) -> str:
    """plan.published for a plan of our own, on the system's broker, as plan-registry's relay sends it."""
    plan_id = uuid.uuid4()
    event = catalogue.PLAN_PUBLISHED.build(
        payloads.PlanPublished(
            plan_id=plan_id,
            lineage_id=uuid.uuid4(),
            version=1,
            supersedes=None,
            region_code=CITY,
            region_name="临汾市",
            kind="plan",
            title="临汾市“十四五”应急管理体系规划（评估测试）",
            period=payloads.PlanPeriod(start=2021, end=2025),
            issuing_body=None,
            doc_number=None,
            issued_on=None,
            parent_plans=[],
            published_at=datetime(2022, 3, 1, tzinfo=UTC),
            published_by="e2e",
            document_sha256=None,
            goals=[],
            indicators=[],
            tasks=[],
        ),
        subject=f"plan/{plan_id}",
        region_code=CITY,
    )
    connection = await nats.connect(system.nats_url)
    try:
        await connection.jetstream().publish(
            event.nats_subject,
            json.dumps(event.model_dump(mode="json", exclude_none=True)).encode(),
            headers={"Nats-Msg-Id": str(event.id)},
        )
    finally:
        await connection.close()
    return str(plan_id)


async def open_round(
    client: httpx.AsyncClient, planner: Login, plan_id: str, reference_date: str
) -> dict[str, Any]:
    """Creates the round once the evaluation has taken the plan from the broker."""
    body = {"plan_id": plan_id, "kind": "mid_term", "reference_date": reference_date}
    for _ in range(300):
        response = await client.post(ROUNDS, json=body, headers=planner.headers)
        if response.status_code != 422:
            assert response.status_code == 201, response.text
            result: dict[str, Any] = response.json()
            return result
        assert response.json()["code"] == "plan_not_published"
        await asyncio.sleep(0.1)
    raise AssertionError("the evaluation never received plan.published")


def snapshot(plan_id: str, reference_date: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text())
    data["plan"]["plan_id"] = plan_id
    data["reference_date"] = reference_date
    return data


async def approve(
    client: httpx.AsyncClient, admin: Login, planner: Login, round_id: str, body: dict[str, Any]
) -> None:
    assert (
        await client.post(f"{ROUNDS}/{round_id}/snapshot", json=body, headers=admin.headers)
    ).status_code == 200
    assert (await client.post(f"{ROUNDS}/{round_id}/submit", headers=planner.headers)).status_code == 200
    assert (await client.post(f"{ROUNDS}/{round_id}/approve", headers=planner.headers)).status_code == 200


def ranking(scores: dict[str, Any], kind: str) -> list[tuple[str, int, str]]:
    return [(s["name"], s["rank"], s["total"]) for s in scores[kind]]


@pytest.fixture(scope="module")
def planner(system: Stack) -> Login:
    return login(system, roles=["bureau_planner"], region=CITY)


@pytest.fixture(scope="module")
def published_round() -> dict[str, str]:
    return {}


class TestCityMidTermRound:
    async def test_scores_ranking_correction_and_publication(
        self,
        system: Stack,
        client: httpx.AsyncClient,
        admin: Login,
        planner: Login,
        published_round: dict[str, str],
    ) -> None:
        plan_id = await announce_plan(system)
        first = await open_round(client, planner, plan_id, "2023-06-30")
        await approve(client, admin, planner, first["id"], snapshot(plan_id, "2023-06-30"))
        scores = (await client.get(f"{ROUNDS}/{first['id']}/scores", headers=planner.headers)).json()
        # Worked on paper (test_domain_scoring.py): 曲沃县 55 + 27.5 − 1.5; 襄汾县 45 + 30 − 1.5;
        # 翼城县 30 + 22.5 − 10 (binding I1 missed) − 2 (overdue) − 1 (returned twice).
        assert ranking(scores, "regions") == [
            ("曲沃县", 1, "81.00"),
            ("襄汾县", 2, "73.50"),
            ("翼城县", 3, "39.50"),
        ]
        assert ranking(scores, "departments") == [
            ("市应急管理局", 1, "69.00"),
            ("市交通运输局", 2, "68.50"),
            ("市水利局", 2, "68.50"),
            ("市住房和城乡建设局", 4, "48.00"),
        ]
        wutai = next(s for s in scores["regions"] if s["key"] == "141022")
        assert [
            (line["ref"], line["points"]) for line in wutai["lines"] if line["kind"] == "missed_binding"
        ] == [("I1", "-10.00")]

        # A correction after approval (襄汾县 I3 now met: +10) cannot enter the approved round …
        corrected = snapshot(plan_id, "2023-06-30")
        for target in corrected["targets"]:
            if (target["region_code"], target["target_id"]) == ("141023", "I3"):
                target.update(current_value="0.80", status="met")
        refused = await client.post(f"{ROUNDS}/{first['id']}/snapshot", json=corrected, headers=admin.headers)
        assert (refused.status_code, refused.json()["code"]) == (409, "round_locked")
        # … it shows in the next one: 襄汾县 83.50, first now, improved by 10.
        corrected["reference_date"] = "2023-12-31"
        second = await open_round(client, planner, plan_id, "2023-12-31")
        stored = await client.post(f"{ROUNDS}/{second['id']}/snapshot", json=corrected, headers=admin.headers)
        assert stored.status_code == 200
        again = (await client.get(f"{ROUNDS}/{first['id']}/scores", headers=planner.headers)).json()
        assert ranking(again, "regions") == ranking(scores, "regions")
        later = (await client.get(f"{ROUNDS}/{second['id']}/scores", headers=planner.headers)).json()
        assert ranking(later, "regions") == [
            ("襄汾县", 1, "83.50"),
            ("曲沃县", 2, "81.00"),
            ("翼城县", 3, "39.50"),
        ]
        assert next(c for c in later["subject_changes"] if c["key"] == "141023")["delta"] == "10.00"

        # Publishing: the unapproved second round is refused; the first is published.
        early = await client.post(f"{ROUNDS}/{second['id']}/publish", headers=planner.headers)
        assert (early.status_code, early.json()["code"]) == (409, "round_not_approved")
        assert (
            await client.post(f"{ROUNDS}/{first['id']}/publish", headers=planner.headers)
        ).status_code == 200
        published_round.update(published=first["id"], unpublished=second["id"])

    async def test_published_report_is_public_and_unpublished_is_not(
        self, system: Stack, published_round: dict[str, str]
    ) -> None:
        assert published_round, "runs after the round is published"
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60) as anonymous:
            for suffix in ("", "/report.html", "/report.docx", "/report.xlsx"):
                hidden = await anonymous.get(f"{PUBLIC}/{published_round['unpublished']}{suffix}")
                assert hidden.status_code == 404, suffix
                assert hidden.headers["content-type"] == "application/problem+json"
                private = await anonymous.get(f"{ROUNDS}/{published_round['unpublished']}{suffix}")
                assert private.status_code == 401, suffix
            shown = await anonymous.get(f"{PUBLIC}/{published_round['published']}/report.html")
            assert shown.status_code == 200
            assert "曲沃县" in shown.text
            word = await anonymous.get(f"{PUBLIC}/{published_round['published']}/report.docx")
            assert word.status_code == 200
            assert word.content[:2] == b"PK"
            listed = (await anonymous.get(PUBLIC)).json()["items"]
            assert published_round["published"] in [r["id"] for r in listed]
            assert published_round["unpublished"] not in [r["id"] for r in listed]

    async def test_exchange_pulls_the_published_round_only(
        self, client: httpx.AsyncClient, planner: Login, published_round: dict[str, str]
    ) -> None:
        """The exchange API (docs/exchange.md): the published round with its frozen result, not the
        approved-but-unpublished one."""
        assert published_round, "runs after the round is published"
        response = await client.get(
            "/api/v1/exchange/evaluations", params={"limit": 1000}, headers=planner.headers
        )
        assert response.status_code == 200, response.text
        items = {item["id"]: item for item in response.json()["items"]}
        assert published_round["unpublished"] not in items
        ours = items[published_round["published"]]
        assert (ours["status"], ours["region_code"], ours["deleted"]) == ("published", CITY, False)
        regions = {s["name"]: s["total"] for s in ours["result"]["regions"]}
        assert regions == {"曲沃县": "81.00", "襄汾县": "73.50", "翼城县": "39.50"}
        assert ours["report"] == f"{PUBLIC}/{published_round['published']}/report.html"


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, int] = {}
        self.svgs: list[str] = []
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._table = attributes.get("id") or ""
            self.tables[self._table] = 0
        elif tag == "tr" and self._table is not None:
            self.tables[self._table] += 1
        elif tag == "svg":
            self.svgs.append(attributes.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None


def test_published_report_renders_in_headless_chromium(
    system: Stack, published_round: dict[str, str], tmp_path: Path
) -> None:
    """Chromium (Debian's package) opens the public URL through the gateway without a token and
    builds the page: the core indicator table and the four SVG charts are in its DOM."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail(
            "chromium is not installed: `apt-get install -y chromium` (the evaluation's browser test needs it)"
        )
    assert published_round, "runs after the round is published"
    url = f"{system.gateway_url}{PUBLIC}/{published_round['published']}/report.html"
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # tests run as root in CI containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    dom = _Dom()
    dom.feed(result.stdout)
    # Header and five indicator rows, three regions and four departments ranked.
    assert dom.tables["table-indicators"] == 1 + 5
    assert dom.tables["table-region-ranking"] == 1 + 3
    assert dom.tables["table-department-ranking"] == 1 + 4
    assert dom.svgs == ["chart-targets", "chart-tasks", "chart-regions", "chart-departments"]


# ----------------------------------------------------------------------------- figures from events
# The same city, its own figures this time: plans announced on the broker as plan-registry's relay
# sends them, data entered and approved through indicator-engine's API, tasks reported on through
# task-assignment's API, all through the gateway. The evaluation takes the round's snapshot from its
# read model, fed by indicator.target.judged and task.state.changed.
#
# Worked on paper (default scheme; 生产安全事故死亡人数 is binding, 下降15% from the 2020 baseline by
# 2025, so the value due in 2022 is B − 0.15·B·2/5 and r = ((B − x)/(0.15·B)) / 0.4):
# - 临汾市 100 → 90: target 85, due 94, r = (10/15)/0.4 = 1.67: on track (市应急管理局 answers for it);
# - 曲沃县 20 → 16: target 17, met: 100 points (its own plan names 曲沃县应急管理局);
# - 翼城县 20 → 19: target 17, r = (1/3)/0.4 = 0.83: lagging, half credit, 50, and −10 for a missed
#   binding target: 40 (翼城县应急管理局); corrected to 18 after approval: r = (2/3)/0.4 = 1.67, on
#   track: 100 in the next round;
# - task (1) of 市应急管理局, due 2022-12-31, in progress: overdue on 2023-06-30 (−1), half its 40
#   points; with the city's target (60): 60 + 20 − 1 = 79; task (2) of 市水利局, in progress, tasks
#   only: 100 × 0.5 = 50.
QUWO, YICHENG = "141021", "141022"
INDICATORS = "/api/v1/indicators/values"


def _responsible(name: str) -> payloads.PlanResponsible:
    return payloads.PlanResponsible(
        lead=[payloads.PlanUnit(name=name, department_id=None, match="none")], co=[]
    )


async def announce(system: Stack, region: str, region_name: str, lead: str, tasks: bool = False) -> str:
    plan_id = uuid.uuid4()
    deaths = payloads.PlanIndicator(
        id=uuid.uuid4(),
        name="生产安全事故死亡人数",
        target_text="下降15%",
        target=payloads.PlanTarget(type="decrease_pct", value="15", unit="%", strict=False),
        nature="binding",
        group="core",
        baseline_text=None,
        responsible=_responsible(lead),
        source_lines=[1],
    )
    section = [payloads.PlanSection(number="(一)", title="重点任务")]

    def task(code: str, title: str, year: int, unit: str) -> payloads.PlanTask:
        return payloads.PlanTask(
            id=uuid.uuid4(),
            kind="key_task",
            code=code,
            title=title,
            description=title,
            section=section,
            deadline_year=year,
            deadline_text=f"{year}年",
            lead=[payloads.PlanUnit(name=unit, department_id=None, match="none")],
            co=[],
            source_lines=[2],
        )

    event = catalogue.PLAN_PUBLISHED.build(
        payloads.PlanPublished(
            plan_id=plan_id,
            lineage_id=uuid.uuid4(),
            version=1,
            supersedes=None,
            region_code=region,
            region_name=region_name,
            kind="plan",
            title=f"{region_name}“十四五”应急管理体系规划（评估数据测试）",
            period=payloads.PlanPeriod(start=2021, end=2025),
            issuing_body=None,
            doc_number=None,
            issued_on=None,
            parent_plans=[],
            published_at=datetime(2022, 3, 1, tzinfo=UTC),
            published_by="e2e",
            document_sha256=None,
            goals=[],
            indicators=[deaths],
            tasks=[
                task("(1)", "安全生产专项整治三年行动", 2022, "市应急管理局"),
                task("(2)", "防汛抗旱物资储备库建设", 2025, "市水利局"),
            ]
            if tasks
            else [],
        ),
        subject=f"plan/{plan_id}",
        region_code=region,
    )
    connection = await nats.connect(system.nats_url)
    try:
        await connection.jetstream().publish(
            event.nats_subject,
            json.dumps(event.model_dump(mode="json", exclude_none=True)).encode(),
            headers={"Nats-Msg-Id": str(event.id)},
        )
    finally:
        await connection.close()
    return str(plan_id)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def until_scores(
    client: httpx.AsyncClient, planner: Login, round_id: str, regions: list[tuple[str, int, str]]
) -> dict[str, Any]:
    """Takes the draft's snapshot again until the events have all arrived (each producer's outbox,
    the broker and the evaluation's consumer run on their own); then the figures are what they are."""
    scores: dict[str, Any] = {}
    for _ in range(150):
        scores = await _ok(await client.get(f"{ROUNDS}/{round_id}/scores", headers=planner.headers))
        if ranking(scores, "regions") == regions and len(scores["departments"]) == 4:
            return scores
        await asyncio.sleep(0.2)
        await _ok(await client.post(f"{ROUNDS}/{round_id}/snapshot/refresh", headers=planner.headers))
    return scores


class TestRoundFromEvents:
    async def test_figures_come_from_indicator_and_task_data_and_a_correction_waits_for_the_next_round(
        self, system: Stack, client: httpx.AsyncClient, planner: Login
    ) -> None:
        city_plan = await announce(system, CITY, "临汾市", "市应急管理局", tasks=True)
        await announce(system, QUWO, "曲沃县", "曲沃县应急管理局")
        await announce(system, YICHENG, "翼城县", "翼城县应急管理局")

        # Data through indicator-engine: entered, submitted, approved (the counties before the city).
        figures = {(CITY, 2020): 100, (CITY, 2022): 90, (QUWO, 2020): 20, (QUWO, 2022): 16}
        figures |= {(YICHENG, 2020): 20, (YICHENG, 2022): 19}
        rows = [
            {"element_code": "ps_deaths", "region_code": region, "year": year, "value": str(value)}
            for (region, year), value in figures.items()
        ]
        loaded = await _ok(
            await client.post(f"{INDICATORS}/bulk", json={"values": rows}, headers=planner.headers)
        )
        assert loaded["rows_rejected"] == 0
        ids: dict[tuple[str, int], int] = {}
        for region, year in sorted(figures, key=lambda key: (key[0] == CITY, key)):
            listed = await _ok(
                await client.get(
                    INDICATORS,
                    params={"element_code": "ps_deaths", "region_code": region, "year": year},
                    headers=planner.headers,
                )
            )
            (item,) = listed["items"]
            ids[(region, year)] = item["id"]
            if item["state"] == "draft":
                await _ok(await client.post(f"{INDICATORS}/{item['id']}/submit", headers=planner.headers))
            await _ok(await client.post(f"{INDICATORS}/{item['id']}/approve", headers=planner.headers))

        # Tasks through task-assignment: the bureau reports on both, which puts them in progress.
        ledger: dict[str, Any] = {}
        for _ in range(150):
            response = await client.get(f"/api/v1/tasks/plans/{city_plan}/ledger", headers=planner.headers)
            if response.status_code == 200 and len(response.json()["rows"]) == 2:
                ledger = {row["code"]: row for row in response.json()["rows"]}
                break
            await asyncio.sleep(0.2)
        assert ledger, "the plan's tasks never reached task-assignment"
        now = datetime.now(UTC)
        period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
        for code in ("(1)", "(2)"):
            report = {"period": period, "percent": 50, "narrative": f"任务{code}推进过半。"}
            await _ok(
                await client.post(
                    f"/api/v1/tasks/{ledger[code]['task_id']}/reports", json=report, headers=planner.headers
                ),
                201,
            )

        first = await open_round(client, planner, city_plan, "2023-06-30")
        assert first["snapshot_origin"] == "read_model"
        scores = await until_scores(
            client, planner, first["id"], [("曲沃县", 1, "100.00"), ("翼城县", 2, "40.00")]
        )
        assert ranking(scores, "regions") == [("曲沃县", 1, "100.00"), ("翼城县", 2, "40.00")]
        assert ranking(scores, "departments") == [
            ("曲沃县应急管理局", 1, "100.00"),
            ("市应急管理局", 2, "79.00"),
            ("市水利局", 3, "50.00"),
            ("翼城县应急管理局", 4, "40.00"),
        ]
        emergency = next(s for s in scores["departments"] if s["name"] == "市应急管理局")
        assert sorted((line["kind"], line["points"]) for line in emergency["lines"]) == [
            ("indicator", "60.00"),
            ("overdue", "-1.00"),
            ("task", "20.00"),
        ]
        path = f"{ROUNDS}/{first['id']}"
        await _ok(await client.post(f"{path}/submit", headers=planner.headers))
        approved = await _ok(await client.post(f"{path}/approve", headers=planner.headers))
        assert approved["snapshot_sources"]["EMPLAN_EVENTS"] > 0
        assert approved["calculation_rules_version"] == "snapshot-2026.1+indicator-2026.1"
        assert approved["scoring_rules_version"] == "scoring-2026.1"

        # 翼城县 corrects 2022 to 18: the approvals are withdrawn (the city's first), the figure
        # corrected, approved again.
        for key in ((CITY, 2022), (YICHENG, 2022)):
            await _ok(await client.post(f"{INDICATORS}/{ids[key]}/unapprove", headers=planner.headers))
        body = {"element_code": "ps_deaths", "region_code": YICHENG, "year": 2022, "value": "18"}
        corrected = await _ok(await client.post(INDICATORS, json=body, headers=planner.headers))
        if corrected["state"] == "draft":
            await _ok(await client.post(f"{INDICATORS}/{corrected['id']}/submit", headers=planner.headers))
        for key in ((YICHENG, 2022), (CITY, 2022)):
            await _ok(await client.post(f"{INDICATORS}/{ids[key]}/approve", headers=planner.headers))

        # The next round has it; the approved one keeps its figures and cannot take them.
        second = await open_round(client, planner, city_plan, "2023-12-31")
        later = await until_scores(
            client, planner, second["id"], [("曲沃县", 1, "100.00"), ("翼城县", 1, "100.00")]
        )
        assert ranking(later, "regions") == [("曲沃县", 1, "100.00"), ("翼城县", 1, "100.00")]
        assert next(c for c in later["subject_changes"] if c["key"] == YICHENG)["delta"] == "60.00"
        assert later["previous_round_id"] == first["id"]
        assert (
            approved["snapshot_sources"]["EMPLAN_EVENTS"]
            < (await _ok(await client.get(f"{ROUNDS}/{second['id']}", headers=planner.headers)))[
                "snapshot_sources"
            ]["EMPLAN_EVENTS"]
        )
        refused = await client.post(f"{path}/snapshot/refresh", headers=planner.headers)
        assert (refused.status_code, refused.json()["code"]) == (409, "round_locked")
        again = await _ok(await client.get(f"{path}/scores", headers=planner.headers))
        assert ranking(again, "regions") == ranking(scores, "regions")
        assert ranking(again, "departments") == ranking(scores, "departments")
