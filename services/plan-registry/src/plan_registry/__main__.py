"""`python -m plan_registry migrate|serve|load-regions|seed-departments`."""

import sys
from pathlib import Path

from emplan_shared.service_main import service_main
from plan_registry.directory.commands import COMMANDS as DIRECTORY_COMMANDS
from plan_registry.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in DIRECTORY_COMMANDS:
        sys.exit(DIRECTORY_COMMANDS[sys.argv[1]](sys.argv[2:]))
    service_main(
        settings_class=Settings, app_factory="plan_registry.app:create_app", migrations_dir=MIGRATIONS
    )


if __name__ == "__main__":
    main()
