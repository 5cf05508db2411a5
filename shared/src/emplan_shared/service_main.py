"""The command line of every service process: `python -m <service> migrate|serve [--migrate]`.

The standalone runner and docker compose run the same command, `serve --migrate`, so the tests that
drive the standalone system cover what the containers run. Migrating in the serving process (under
the advisory lock, before it listens) rather than in a `migrate` process of its own halves the
processes a start spawns, and each one's import of the whole stack is most of a start's CPU
(bench/cold_start.py). `migrate` alone stays for operators who upgrade as a separate step.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from emplan_shared.logging import configure_logging
from emplan_shared.migrate import migrate
from emplan_shared.settings import ServiceSettings


def service_main(
    *,
    settings_class: type[ServiceSettings],
    app_factory: str,
    migrations_dir: Path | None,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {app_factory.split('.')[0]}")
    commands = parser.add_subparsers(dest="command", required=True)
    if migrations_dir is not None:
        commands.add_parser("migrate", help="create the database if missing and apply every migration")
    serve = commands.add_parser("serve", help="serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--workers", type=int, default=1)
    if migrations_dir is not None:
        serve.add_argument(
            "--migrate",
            action="store_true",
            help="create the database if missing and apply every migration before serving",
        )
    args = parser.parse_args(argv)
    settings = settings_class()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    if args.command == "migrate" or getattr(args, "migrate", False):
        assert migrations_dir is not None
        migrate(
            settings.async_database_url, migrations_dir, lock_name=f"emplan-migrate-{settings.service_name}"
        )
        if args.command == "migrate":
            return
    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        # The gateway keeps idle upstream connections for 60 s (gateway/upstreams.py). If the
        # service closed them first (uvicorn's default is 5 s), the gateway could pick a connection
        # the service had just closed and answer 502 for a healthy service: the client side must be
        # the one that gives up on an idle connection, so the server waits longer.
        timeout_keep_alive=120,
    )
