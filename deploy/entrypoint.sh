#!/bin/sh
# The command of every emplan service container (deploy/Dockerfile), the same two commands the
# standalone runner (`make run`, tools/src/emplan_tools/standalone.py) runs for each service:
#
#   python -m <package> migrate                                create the database if missing and
#                                                               apply every migration
#   python -m <package> serve --host 0.0.0.0 --port <port>     serve HTTP
#
# Migrating at every start is safe with several replicas starting at once: `migrate` holds a
# PostgreSQL advisory lock, so one replica upgrades and the others then find nothing to do.
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

python -m "$PACKAGE" migrate
exec python -m "$PACKAGE" serve --host 0.0.0.0 --port "$PORT"
