"""Evaluation end to end through the gateway: a plan arrives as `plan.published` on the real broker,
a mid-term round of the hand-made city plan (三 counties, five indicators with the binding one missed
in 翼城县, twenty tasks, four overdue, three returned) gives the scores and ranking worked out on
paper in services/evaluation/tests/unit/test_domain_scoring.py, a correction after approval shows
only in the next round, and the published report is readable without a token (in a real headless
Chromium too) while an unpublished one is not.

The snapshot is posted by a system admin (`POST …/rounds/{id}/snapshot`): the read model that will
fill it from indicator-engine's and task-assignment's events is not built yet.
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
