import asyncio
import sys
from pathlib import Path

from emplan_shared.service_main import service_main
from evaluation.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
USAGE = "python -m evaluation rebuild-read-model: replay the event stream into an empty read model"

if __name__ == "__main__":
    if sys.argv[1:2] == ["rebuild-read-model"]:
        if len(sys.argv) > 2:
            sys.exit(f"usage: {USAGE}")
        from evaluation.readmodel.rebuild import rebuild_command

        report = asyncio.run(rebuild_command(Settings()))
        print(f"read model rebuilt: {report.applied} events applied (stream up to {report.up_to})")
    else:
        service_main(
            settings_class=Settings, app_factory="evaluation.app:create_app", migrations_dir=MIGRATIONS
        )
