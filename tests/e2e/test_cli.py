"""The operators' `emplan` command through a whole plan life on the standalone system: regions loaded,
accounts and a machine client made, 忻州's real plan document imported and published, statistics
loaded in batches, a mid-term round started, scored, approved and published, the ledger and the
report exported, and every dependency healthy.

Commands run in-process through click's CliRunner (the same code as the console script, without a
second interpreter start each); `migrate` and `regions load --builtin` start the services' own
commands as subprocesses, as they do for an operator.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from emplan_tools.cli import cli
from emplan_tools.stack import Stack

from .conftest import Login

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = REPO_ROOT.parent / "shared" / "seeds" / "001_e042361886956950.txt"  # 忻州市 implementation plan
SNAPSHOT = REPO_ROOT / "services" / "evaluation" / "tests" / "data" / "city_midterm_snapshot.json"
XINZHOU = "140900"
# The sample snapshot's 临汾 codes, moved onto 忻州 and three of its counties.
MOVED = {"141000": XINZHOU, "141021": "140921", "141022": "140922", "141023": "140923"}


def emplan(system: Stack, *args: str, token: str | None = None, **env: str) -> Result:
    environment = {
        "EMPLAN_URL": system.gateway_url,
        "EMPLAN_TOKEN": token or "",
        "EMPLAN_USERNAME": "",
        "EMPLAN_PASSWORD": "",
        "EMPLAN_CLIENT_ID": "",
        "EMPLAN_CLIENT_SECRET": "",
        **env,
    }
    return CliRunner().invoke(cli, list(args), env={k: v or None for k, v in environment.items()})


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"{result.output}\n{result.stderr if result.stderr_bytes else ''}"
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def snapshot_for(plan_id: str, path: Path) -> Path:
    data = json.loads(SNAPSHOT.read_text())
    data["plan"]["plan_id"] = plan_id

    def move(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "region_code" and value in MOVED:
                    node[key] = MOVED[value]
                else:
                    move(value)
        elif isinstance(node, list):
            for item in node:
                move(item)

    move(data)
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


@pytest.fixture(scope="module")
def regions(system: Stack, admin: Login) -> None:
    """The national list, loaded on this machine by plan-registry's own command through
    `emplan regions load --builtin`, unless an earlier module of the session loaded it already (the
    command is idempotent, but a reload costs seconds)."""
    known = httpx.get(f"{system.gateway_url}/api/v1/directory/regions/{XINZHOU}", headers=admin.headers)
    if known.status_code == 200:
        return
    result = CliRunner().invoke(cli, ["regions", "load", "--builtin"], env=system.env)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def life(
    system: Stack, admin: Login, regions: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What the commands produce, shared by the checks below."""
    if not SEED.exists():
        pytest.skip(f"{SEED} is absent: the real documents live in the shared folder next to the repository")
    return {"dir": tmp_path_factory.mktemp("cli")}


class TestPlanLife:
    def test_migrate_runs_the_services_own_command(self, system: Stack) -> None:
        # Already migrated by the running system: migrating again is a no-op that succeeds.
        result = CliRunner().invoke(cli, ["migrate", "evaluation"], env=system.env)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("- evaluation: ok (")
        unknown = CliRunner().invoke(cli, ["migrate", "evaluation", "no-such-service"], env=system.env)
        assert unknown.exit_code == 2
        assert "no-such-service" in unknown.stderr

    def test_regions_csv_skips_existing_and_reports_bad_rows(
        self, system: Stack, admin: Login, life: dict[str, Any]
    ) -> None:
        csv = life["dir"] / "regions.csv"
        # Chinese headers; two regions the directory has; a code that is not six digits on line 4.
        csv.write_text(
            "代码,名称,级别,上级代码\n140900,忻州市,city,140000\n140902,忻府区,county,140900\n14090X,坏,city,\n"
        )
        result = emplan(system, "--json", "regions", "load", str(csv), token=admin.token)
        assert result.exit_code == 1
        summary = json.loads(result.stdout)
        assert summary["failures"][0]["row"] == 4, summary
        assert (summary["created"], summary["existing"], summary["failed"]) == (0, 2, 1)
        assert summary["failures"][0]["row"] == 4

    def test_accounts_clients_and_both_logins(
        self, system: Stack, admin: Login, life: dict[str, Any]
    ) -> None:
        username = f"planner-{uuid.uuid4().hex[:8]}"
        created = emplan(
            system,
            "accounts",
            "create",
            "--username",
            username,
            "--role",
            "bureau_planner",
            "--region",
            XINZHOU,
            token=admin.token,
        )
        ok(created)
        password = created.stdout.rsplit(": ", 1)[1].strip()
        token = ok(emplan(system, "login", EMPLAN_USERNAME=username, EMPLAN_PASSWORD=password)).stdout.strip()
        life["planner"] = token
        me = emplan(system, "login", EMPLAN_USERNAME=username, EMPLAN_PASSWORD="wrong")
        assert me.exit_code == 1
        assert "400 invalid_grant" in me.stderr

        client_id = f"platform-{uuid.uuid4().hex[:8]}"
        client = as_json(
            emplan(
                system,
                "--json",
                "clients",
                "create",
                "--client-id",
                client_id,
                "--name",
                "省级平台",
                "--region",
                XINZHOU,
                token=admin.token,
            )
        )
        assert client["client"]["client_id"] == client_id
        life["client"] = ok(
            emplan(system, "login", EMPLAN_CLIENT_ID=client_id, EMPLAN_CLIENT_SECRET=client["client_secret"])
        ).stdout.strip()

    def test_import_publish_load_evaluate_export(
        self, system: Stack, admin: Login, life: dict[str, Any]
    ) -> None:
        planner = life["planner"]
        imported = as_json(emplan(system, "--json", "plans", "import", str(SEED), "--publish", token=planner))
        plan_id = imported["plan_id"]
        assert imported["status"] == "published"
        assert imported["region"]["code"] == XINZHOU

        # Statistics: five rows in batches of two (three requests), then the same file again.
        values = life["dir"] / "values.csv"
        counties = ["140902", "140921", "140922", "140923", "140924"]
        values.write_text(
            "数据元素,行政区划代码,年份,数值\n"
            + "".join(f"ps_deaths,{c},2023,{n}\n" for n, c in enumerate(counties, 1))
        )
        first = as_json(
            emplan(system, "--json", "data", "load", str(values), "--rows-per-request", "2", token=planner)
        )
        assert (first["requests"], first["rows_total"], first["rows_inserted"]) == (3, 5, 5)
        again = as_json(
            emplan(system, "--json", "data", "load", str(values), "--rows-per-request", "2", token=planner)
        )
        assert (again["rows_inserted"], again["rows_unchanged"]) == (0, 5)
        # A negative count on the file's line 5 is in the second batch (its line 3): reported as line 5.
        bad = life["dir"] / "bad.csv"
        bad.write_text(
            "element_code,region_code,year,value\n"
            + "".join(f"ps_deaths,{c},2024,{n}\n" for n, c in zip((1, 2, 3, -4), counties, strict=False))
        )
        refused = emplan(system, "data", "load", str(bad), "--rows-per-request", "2", token=planner)
        assert refused.exit_code == 1
        assert "bulk_rejected" in refused.stderr
        assert "  5: " in refused.stderr

        # Evaluation: the round waits for plan.published to reach the service, takes the snapshot,
        # and the hand-worked scores come out (services/evaluation/tests/unit/test_domain_scoring.py).
        snapshot = snapshot_for(plan_id, life["dir"] / "snapshot.json")
        started = as_json(
            emplan(
                system,
                "--json",
                "evaluations",
                "start",
                "--plan",
                plan_id,
                "--reference-date",
                "2023-06-30",
                "--snapshot",
                str(snapshot),
                "--wait",
                "60",
                token=admin.token,
            )
        )
        assert started["status"] == "draft"
        advanced = emplan(
            system, "evaluations", "advance", started["id"], "submit", "approve", "publish", token=admin.token
        )
        assert ok(advanced).stdout.splitlines() == [
            "submit: under_review",
            "approve: approved",
            "publish: published",
        ]

        # Exports: the ledger (64 rows: 33 key tasks, 9 focus areas, 22 projects) once task-assignment
        # has the plan, read with the planner's token; the report with the machine client's.
        ledger = life["dir"] / "ledger.xlsx"
        deadline = time.monotonic() + 60
        while True:
            exported = emplan(system, "export", "ledger", plan_id, "-o", str(ledger), token=planner)
            if exported.exit_code == 0 or "404" not in exported.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        ok(exported)
        sheet = load_workbook(io.BytesIO(ledger.read_bytes()), read_only=True).worksheets[0]
        numbers = [row[0] for row in sheet.iter_rows(values_only=True) if isinstance(row[0], int)]
        assert numbers == list(range(1, 65))
        report = life["dir"] / "report.html"
        ok(
            emplan(
                system,
                "export",
                "report",
                started["id"],
                "--format",
                "html",
                "-o",
                str(report),
                token=life["client"],
            )
        )
        html = report.read_text(encoding="utf-8")
        for county, total in (("曲沃县", "81.00"), ("襄汾县", "73.50"), ("翼城县", "39.50")):
            assert county in html
            assert total in html

    def test_health_shows_every_dependency(self, system: Stack, admin: Login) -> None:
        details = as_json(emplan(system, "--json", "health", token=admin.token))
        assert details["status"] == "ready"
        assert details["checks"]["database"] == "ok"
        assert set(details["services"]) == {
            "plan-registry",
            "indicator-engine",
            "task-assignment",
            "evaluation",
        }
        for name, service in details["services"].items():
            assert service["status"] == "ready", name
            assert (service["checks"]["database"], service["checks"]["nats"]) == ("ok", "ok"), name
            assert service["outbox"]["backlog"] is not None, name
        # task-assignment follows plan.published with a durable consumer: its lag is reported.
        consumers = details["services"]["task-assignment"]["consumers"]
        assert consumers
        assert all("pending" in c and "dead_letters" in c for c in consumers.values())
        # The table for people, and exit code 0 when all is ready.
        table = ok(emplan(system, "health", token=admin.token)).stdout
        assert "evaluation" in table
        assert "ready" in table
        # Anonymous callers get nothing on the public port, and the services' details are not proxied.
        for path in ("/readyz/details", "/metrics"):
            anonymous = httpx.get(system.gateway_url + path)
            assert (anonymous.status_code, anonymous.json()["code"]) == (401, "token_missing"), path
        metrics = httpx.get(
            system.gateway_url + "/metrics", headers={"Authorization": f"Bearer {admin.token}"}
        )
        assert metrics.status_code == 200
        # The requests above, counted by the gateway under their service's prefix.
        assert 'route="/api/v1/plans/…"' in metrics.text
