"""The exchange pull of data values on the real PostgreSQL: snapshot, increments with tombstones,
commit order (a transaction that commits late is not skipped), NDJSON resumption, dry run, id
schemes, bad cursors and regions, and the SDMX-JSON export.

Regions: 忻州市 140900 with 忻府区 140902 and 定襄县 140921; 太原市 140100 lies outside it.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url

from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import bearer
from indicator_engine.app import create_app
from indicator_engine.settings import Settings

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
CITY, XINFU, DINGXIANG, TAIYUAN = "140900", "140902", "140921", "140100"
VALUES = "/api/v1/indicators/values"
PULL = "/api/v1/exchange/data-values"
NDJSON = {"Accept": "application/x-ndjson"}


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Database:
    url: str
    server_url: str
    prefix: str


@pytest.fixture(scope="module")
def database(infra) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    prefix = f"emplan_iex{uuid.uuid4().hex[:8]}_"
    name = prefix + "indicator_engine"
    url = with_database(infra.database_url, name)
    migrate(url, SERVICE_ROOT / "migrations", lock_name=f"test-{name}")
    try:
        yield Database(url=url, server_url=infra.database_url, prefix=prefix)
    finally:

        async def drop() -> None:
            connection = await asyncpg.connect(_dsn(with_database(infra.database_url, "postgres")))
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await connection.close()

        asyncio.run(drop())


@dataclass
class Api:
    client: httpx.AsyncClient
    private_key: str
    dsn: str

    def token(
        self, region: str, roles: tuple[str, ...] = ("bureau_planner",), sub: str | None = None
    ) -> dict[str, str]:
        return bearer(self.private_key, sub=sub or f"test-{region}", region=region, roles=roles)

    async def enter(self, region: str, element: str, year: int, value: str) -> dict[str, Any]:
        body = {"element_code": element, "region_code": region, "year": year, "value": value}
        response = await self.client.post(VALUES, json=body, headers=self.token(region))
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    async def delete(self, value: dict[str, Any]) -> None:
        response = await self.client.delete(
            f"{VALUES}/{value['id']}", headers=self.token(value["region_code"])
        )
        assert response.status_code == 204, response.text

    async def pull(self, headers: dict[str, str], **params: Any) -> dict[str, Any]:
        response = await self.client.get(PULL, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def pull_settled(
        self, headers: dict[str, str], cursor: str | None = None, *, want: int, **params: Any
    ) -> tuple[list[dict[str, Any]], str]:
        """`pull_all` again from the same cursor until `want` items have come (at most 10 s). A
        write of any other transaction on the server still running when the pull reads holds the
        horizon (and what committed after it) back for that moment: the guarantee is that nothing
        is skipped, not that a pull sees a commit at once. Repeating a pull changes nothing."""
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            items, next_cursor = await self.pull_all(headers, cursor, **params)
            if len(items) >= want or asyncio.get_running_loop().time() > deadline:
                return items, next_cursor
            await asyncio.sleep(0.05)

    async def pull_all(
        self, headers: dict[str, str], cursor: str | None = None, **params: Any
    ) -> tuple[list[dict[str, Any]], str]:
        """Every page until `has_more` is false: the items and the cursor to continue from."""
        items: list[dict[str, Any]] = []
        while True:
            page = await self.pull(headers, **({"cursor": cursor} if cursor else {}), **params)
            items += page["items"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return items, cursor


@pytest.fixture(scope="module")
async def api(database: Database, infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    keys = ensure_signing_keys(tmp_path_factory.mktemp("keys"))
    settings = Settings(
        DATABASE_URL=database.server_url,
        EMPLAN_DATABASE_PREFIX=database.prefix,
        NATS_URL=infra.nats_url,
        EMPLAN_JWT_PUBLIC_KEY_FILE=keys.public_key_file,
        EMPLAN_EXCHANGE_CURSOR_KEY_FILE=keys.exchange_key_file,
        EMPLAN_LOG_FORMAT="text",
        EMPLAN_LOG_LEVEL="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://indicator-engine") as client:
            yield Api(client, keys.private_key_file.read_text(), _dsn(database.url))


def _keys(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["deleted"], i["region_code"], i["element_code"], i["year"], i.get("value")) for i in items]


class TestPull:
    async def test_snapshot_then_exactly_the_changes(self, api: Api) -> None:
        city = api.token(CITY, ("machine_client",), sub="prov-a")
        a = await api.enter(XINFU, "fire_deaths", 2021, "4")
        b = await api.enter(DINGXIANG, "fire_deaths", 2021, "2")
        await api.enter(TAIYUAN, "fire_deaths", 2021, "9")  # outside 忻州: never pulled
        items, cursor = await api.pull_settled(city, want=2, limit=1)  # a page per value: paging exercised
        assert _keys(items) == [
            (False, XINFU, "fire_deaths", 2021, "4"),
            (False, DINGXIANG, "fire_deaths", 2021, "2"),
        ]
        assert [i["id"] for i in items] == [a["id"], b["id"]]
        # Nothing changed: an empty pull, the cursor stays usable.
        again, cursor = await api.pull_all(city, cursor)
        assert again == []
        # Correct a, delete b, add c, change 太原 (not ours).
        await api.enter(XINFU, "fire_deaths", 2021, "5")
        await api.delete(b)
        c = await api.enter(DINGXIANG, "fire_deaths", 2022, "1")
        await api.enter(TAIYUAN, "fire_deaths", 2021, "10")
        changes, cursor = await api.pull_settled(city, cursor, want=3)
        assert [(i["deleted"], i["id"], i.get("value"), i.get("version")) for i in changes] == [
            (False, a["id"], "5", 2),
            (True, b["id"], None, None),
            (False, c["id"], "1", 1),
        ]
        assert changes[1]["deleted_at"]
        assert changes[1]["region_code"] == DINGXIANG
        # include_deleted=false leaves the tombstone out; a fresh snapshot no longer has b.
        fresh, _ = await api.pull_settled(city, want=2, include_deleted="false")
        assert sorted(i["id"] for i in fresh) == sorted([a["id"], c["id"]])

    async def test_a_transaction_that_commits_late_is_not_skipped(self, api: Api) -> None:
        """T1 inserts first (lower id, lower xid) and commits after T2. An id or timestamp cursor
        passes T2's row and never sees T1's; the horizon holds the pull back until T1 has ended."""
        county = api.token(XINFU, ("machine_client",), sub="prov-late")
        _, cursor = await api.pull_all(county)
        late = await asyncpg.connect(api.dsn)
        try:
            transaction = late.transaction()
            await transaction.start()
            late_id = await late.fetchval(
                "INSERT INTO data_value (element_code, region_code, year, month, value, state, version,"
                " entered_by, updated_by) VALUES ('road_traffic_deaths', $1, 2023, 0, 3, 'draft', 1, 't', 't')"
                " RETURNING id",
                XINFU,
            )
            early = await api.enter(XINFU, "fire_deaths", 2023, "6")  # commits now, while T1 is open
            assert early["id"] > late_id
            held, held_cursor = await api.pull_all(county, cursor)
            assert held == []  # T2's row waits behind the open T1
            await transaction.commit()
        finally:
            await late.close()
        items, _ = await api.pull_settled(county, held_cursor, want=2)
        assert [i["id"] for i in items] == [late_id, early["id"]]

    async def test_concurrent_writers_nothing_lost_nothing_repeated(self, api: Api) -> None:
        """Six writers commit 90 values in transactions held open for random times (so commit order
        differs from id and xid order) while a client pulls pages of 7 as fast as it can; after the
        writers end, one last pull. Every committed value arrives exactly once."""
        county = api.token("140925", ("machine_client",), sub="prov-race")  # 宁武县: only this test's
        _, cursor = await api.pull_all(county)
        rng = random.Random(20261123)
        keys = [(year, month) for year in range(2000, 2036) for month in range(13)][:90]
        rng.shuffle(keys)
        delays = [rng.uniform(0, 0.03) for _ in keys]
        committed: list[int] = []

        async def writer(batch: list[tuple[int, tuple[int, int]]]) -> None:
            connection = await asyncpg.connect(api.dsn)
            try:
                for index, (year, month) in batch:
                    async with connection.transaction():
                        value_id = await connection.fetchval(
                            "INSERT INTO data_value (element_code, region_code, year, month, value, state,"
                            " version, entered_by, updated_by) VALUES ('nd_deaths', '140925', $1, $2, 1,"
                            " 'draft', 1, 't', 't') RETURNING id",
                            year,
                            month,
                        )
                        await asyncio.sleep(delays[index])
                    committed.append(value_id)
            finally:
                await connection.close()

        indexed = list(enumerate(keys))
        writers = [asyncio.create_task(writer(indexed[n::6])) for n in range(6)]
        seen: list[int] = []
        while not all(w.done() for w in writers):
            page = await api.pull(county, cursor=cursor, limit=7)
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            await asyncio.sleep(0.005)
        await asyncio.gather(*writers)
        rest, _ = await api.pull_all(county, cursor)
        seen += [item["id"] for item in rest]
        assert len(committed) == 90
        assert sorted(seen) == sorted(committed)  # none lost, none twice

    async def test_ndjson_stream_resumes_after_any_line(self, api: Api) -> None:
        county = api.token(DINGXIANG, ("machine_client",), sub="prov-stream")
        for year in range(2010, 2016):
            await api.enter(DINGXIANG, "nd_deaths", year, str(year - 2000))
        response = await api.client.get(PULL, headers=county | NDJSON)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [orjson.loads(line) for line in response.content.splitlines()]
        rows, last = lines[:-1], lines[-1]
        assert last["count"] == len(rows)
        assert last["has_more"] is False
        years = [r["year"] for r in rows if r["element_code"] == "nd_deaths"]
        assert years == list(range(2010, 2016))
        # Stop after line 3 and resume from its cursor: lines 4… exactly, nothing repeated or lost.
        resumed = await api.client.get(PULL, params={"cursor": rows[2]["cursor"]}, headers=county | NDJSON)
        tail = [orjson.loads(line) for line in resumed.content.splitlines()]
        assert [r["id"] for r in tail[:-1]] == [r["id"] for r in rows[3:]]
        # A limit ends the stream early with has_more and the cursor of its last line.
        limited = await api.client.get(PULL, params={"limit": 2}, headers=county | NDJSON)
        limited_lines = [orjson.loads(line) for line in limited.content.splitlines()]
        assert len(limited_lines) == 3
        assert limited_lines[-1] == {"next_cursor": limited_lines[1]["cursor"], "has_more": True, "count": 2}
        # The end-of-stream cursor continues with nothing new.
        after = await api.pull(county, cursor=last["next_cursor"])
        assert after["items"] == []
        assert after["has_more"] is False

    async def test_dry_run_counts(self, api: Api) -> None:
        county = api.token(CITY, ("machine_client",), sub="prov-dry")
        x = await api.enter("140922", "fire_deaths", 2019, "1")  # 五台县
        await api.enter("140922", "fire_deaths", 2020, "1")
        await api.delete(x)
        report = await api.pull(county, region="140922", dry_run="true")
        assert report["dry_run"] is True
        assert (report["changed"], report["deleted"]) == (1, 1)
        assert report["regions"] == [{"region_code": "140922", "changed": 1, "deleted": 1}]
        rest = await api.pull(county, region="140922", cursor=report["next_cursor"])
        assert rest["items"] == []

    async def test_code_scheme_drops_the_tombstone_of_a_key_entered_again(self, api: Api) -> None:
        county = api.token("140923", ("machine_client",), sub="prov-code")  # 代县
        _, cursor = await api.pull_all(county)
        first = await api.enter("140923", "fire_deaths", 2018, "7")
        await api.delete(first)
        second = await api.enter("140923", "fire_deaths", 2018, "8")
        by_uid, _ = await api.pull_settled(county, cursor, want=2)
        assert [(i["deleted"], i["id"]) for i in by_uid] == [(True, first["id"]), (False, second["id"])]
        by_code, _ = await api.pull_settled(county, cursor, want=1, id_scheme="code")
        assert [(i["deleted"], i.get("value"), "id" in i) for i in by_code] == [(False, "8", False)]

    async def test_bad_cursor_and_region(self, api: Api) -> None:
        mine = api.token(CITY, ("machine_client",), sub="prov-x")
        theirs = api.token(CITY, ("machine_client",), sub="prov-y")
        page = await api.pull(mine, limit=1)
        for headers, params in [
            (theirs, {"cursor": page["next_cursor"]}),  # another client's cursor
            (mine, {"cursor": page["next_cursor"][:-2] + "AA"}),  # tampered
            (mine, {"cursor": page["next_cursor"], "region": XINFU}),  # issued for another region
        ]:
            response = await api.client.get(PULL, params=params, headers=headers)
            assert response.status_code == 400, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "invalid_cursor"
        # Recorded in the service's audit trail, once per caller and kind a minute (prov-x twice here).
        connection = await asyncpg.connect(api.dsn)
        try:
            refused = await connection.fetch(
                "SELECT actor_subject, object_id, after ->> 'kind' AS kind FROM audit_log"
                " WHERE action = 'cursor_refused' AND object_id IN ('prov-x', 'prov-y') ORDER BY object_id"
            )
        finally:
            await connection.close()
        assert [tuple(r) for r in refused] == [
            ("prov-x", "prov-x", "data-values"),
            ("prov-y", "prov-y", "data-values"),
        ]
        outside = await api.client.get(PULL, params={"region": TAIYUAN}, headers=mine)
        assert outside.status_code == 404
        assert outside.json()["code"] == "region_not_found"
        above = await api.client.get(PULL, params={"region": "140000"}, headers=mine)
        assert above.status_code == 404
        assert (await api.client.get(PULL)).status_code == 401


class TestSdmx:
    async def test_data_message(self, api: Api) -> None:
        county = api.token("140924", ("machine_client",), sub="prov-sdmx")  # 繁峙县
        kept = await api.enter("140924", "gdp", 2020, "3.20")
        gone = await api.enter("140924", "gdp", 2021, "1.50")
        await api.client.post(f"{VALUES}/{kept['id']}/submit", headers=api.token("140924"))
        await api.delete(gone)
        response = await api.client.get("/api/v1/exchange/data-values.sdmx.json", headers=county)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.sdmx.data+json")
        message = response.json()
        structure = message["data"]["structures"][0]
        dims = {d["id"]: [v["id"] for v in d["values"]] for d in structure["dimensions"]["observation"]}
        assert [d["keyPosition"] for d in structure["dimensions"]["observation"]] == [0, 1, 2]
        assert dims["INDICATOR"] == ["gdp"]
        assert dims["REF_AREA"] == ["140924"]
        replace, delete = message["data"]["dataSets"]
        assert (replace["action"], delete["action"]) == ("Replace", "Delete")
        period = dims["TIME_PERIOD"]
        attributes = {a["id"]: a["values"] for a in structure["attributes"]["observation"]}
        observation = replace["observations"][f"0:0:{period.index('2020')}"]
        assert observation[0] == "3.20"  # exact decimal, as a string, trailing zero kept
        assert attributes["OBS_STATUS"][observation[2]]["id"] == "P"  # submitted, not approved
        assert attributes["UNIT_MEASURE"][observation[1]]["name"] == "亿元"
        assert delete["observations"] == {f"0:0:{period.index('2021')}": [None]}
        assert message["meta"]["has_more"] is False
        assert message["meta"]["next_cursor"]
