"""Which service answers which path: one table, read by the proxy, the OpenAPI merge and the docs."""

from __future__ import annotations

# Path prefix → the service that owns it. The gateway's own area (auth) is not here.
ROUTES: dict[str, str] = {
    "/api/v1/directory": "plan-registry",
    "/api/v1/plans": "plan-registry",
    "/api/v1/indicators": "indicator-engine",
    "/api/v1/tasks": "task-assignment",
    "/api/v1/evaluations": "evaluation",
    # The exchange API (docs/exchange.md): each kind is served by the service that owns it.
    "/api/v1/exchange/data-values": "indicator-engine",
    "/api/v1/exchange/data-values.sdmx.json": "indicator-engine",
    "/api/v1/exchange/tasks": "task-assignment",
    "/api/v1/exchange/plans": "plan-registry",
    "/api/v1/exchange/evaluations": "evaluation",
}


def service_for(path: str) -> str | None:
    for prefix, service in ROUTES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


def route_label(path: str) -> str | None:
    """The metrics label of a proxied request: its service's prefix (`/api/v1/plans/…`); the service
    itself counts it again by its exact route template."""
    for prefix in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix + "/…"
    return None
