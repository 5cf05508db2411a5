"""`emplan`, the operators' command (see main.py); kept light so `emplan --help` starts fast."""

from emplan_tools.cli.main import cli, main

__all__ = ["cli", "main"]
