"""The `emplan` commands that run on this machine, not through the gateway: each service's own
`python -m <package> migrate` (and plan-registry's `load-regions`), with this process's environment
(DATABASE_URL, EMPLAN_DATABASE_PREFIX, …), one after the other, output passed through."""

from __future__ import annotations

import subprocess
import sys
import time

import click

from emplan_tools.stack import SERVICES, ServiceSpec


def run_service_command(package: str, args: list[str]) -> int:
    return subprocess.run([sys.executable, "-m", package, *args], check=False).returncode


def migrate_services(names: list[str]) -> int:
    """Migrates the named services (all installed ones when none is named); 0 when all succeed."""
    known = {spec.name: spec for spec in SERVICES if spec.migrate}
    unknown = [name for name in names if name not in known]
    if unknown:
        click.echo(
            f"未知的服务 / unknown service: {', '.join(unknown)}; 可选 / known: {', '.join(known)}", err=True
        )
        return 2
    chosen: list[ServiceSpec] = [known[name] for name in names] if names else list(known.values())
    failed = []
    for spec in chosen:
        if not spec.is_installed():
            click.echo(f"- {spec.name}: 未安装，跳过 / not installed here, skipped", err=True)
            continue
        started = time.perf_counter()
        code = run_service_command(spec.package, ["migrate"])
        elapsed = time.perf_counter() - started
        mark = "ok" if code == 0 else f"失败 failed (exit {code})"
        click.echo(f"- {spec.name}: {mark} ({elapsed:.1f}s)")
        if code != 0:
            failed.append(spec.name)
    return 1 if failed else 0
