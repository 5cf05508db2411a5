from pathlib import Path

from emplan_shared.service_main import service_main
from task_assignment.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

if __name__ == "__main__":
    service_main(
        settings_class=Settings, app_factory="task_assignment.app:create_app", migrations_dir=MIGRATIONS
    )
