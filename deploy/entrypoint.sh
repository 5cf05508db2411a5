#!/bin/sh
# The command of every emplan service container (deploy/Dockerfile), the same command the
# standalone runner (`make run`, tools/src/emplan_tools/stack.py) runs for each service:
#
#   python -m <package> serve --migrate --host 0.0.0.0 --port <port>
#
# `--migrate` creates the database if missing and applies every migration before serving, in the
# same process (one import of the stack, not two). Migrating at every start is safe with several
# replicas starting at once: it holds a PostgreSQL advisory lock, so one replica upgrades and the
# others then find nothing to do. `python -m <package> migrate` alone upgrades without serving.
#
# With arguments the container runs them instead, e.g.
#   docker compose run --rm gateway python -m gateway create-user --username admin ...
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

: "${EMPLAN_SERVICE:?is not set (a build argument of deploy/Dockerfile)}"
: "${EMPLAN_SERVICE_PORT:?is not set (a build argument of deploy/Dockerfile)}"
PACKAGE="${EMPLAN_PACKAGE:-$(printf '%s' "$EMPLAN_SERVICE" | tr '-' '_')}"
PORT="$EMPLAN_SERVICE_PORT"

exec python -m "$PACKAGE" serve --migrate --host 0.0.0.0 --port "$PORT"
