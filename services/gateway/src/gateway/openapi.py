"""One OpenAPI document for the whole system: the gateway's own paths plus every service's.

Services own disjoint path prefixes, so paths merge as they are. Component schemas may share a name
across services (`Problem`, `Page_…`): identical ones are kept once, different ones are renamed with
the service's name and every reference inside that service's part is rewritten.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any

import httpx

from emplan_shared.openapi import rename_schema_refs

logger = logging.getLogger(__name__)


def _prefix_for(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("-"))


def merge_documents(base: dict[str, Any], parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`base` (the gateway's own document) with every service document in `parts` merged into it."""
    merged = copy.deepcopy(base)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    tags: list[dict[str, Any]] = merged.setdefault("tags", [])
    known_tags = {tag["name"] for tag in tags}
    for service, document in sorted(parts.items()):
        own_schemas = document.get("components", {}).get("schemas", {})
        renames = {
            name: f"{_prefix_for(service)}{name}"
            for name, schema in own_schemas.items()
            if name in schemas and schemas[name] != schema
        }
        for name, schema in own_schemas.items():
            schemas[renames.get(name, name)] = rename_schema_refs(schema, renames)
        for path, item in document.get("paths", {}).items():
            if path in paths:
                logger.warning("path served by two services", extra={"path": path, "service": service})
                continue
            paths[path] = rename_schema_refs(item, renames)
        for tag in document.get("tags", []):
            if tag["name"] not in known_tags:
                tags.append(tag)
                known_tags.add(tag["name"])
    merged["paths"] = dict(sorted(paths.items()))
    merged["components"]["schemas"] = dict(sorted(schemas.items()))
    return merged


class OpenApiCache:
    """Fetches the services' documents, keeping the last good copy of each for `ttl` seconds."""

    def __init__(self, client: httpx.AsyncClient, upstreams: dict[str, str], ttl: float = 30.0) -> None:
        self.client = client
        self.upstreams = upstreams
        self.ttl = ttl
        self._documents: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def documents(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The documents and the services whose document could not be fetched."""
        async with self._lock:
            missing: list[str] = []
            if time.monotonic() - self._fetched_at > self.ttl or len(self._documents) < len(self.upstreams):
                results = await asyncio.gather(
                    *(self._fetch(url) for url in self.upstreams.values()), return_exceptions=True
                )
                for service, result in zip(self.upstreams, results, strict=True):
                    if isinstance(result, dict):
                        self._documents[service] = result
                    else:
                        logger.warning("service OpenAPI unavailable", extra={"service": service})
                if all(isinstance(r, dict) for r in results):
                    self._fetched_at = time.monotonic()
            missing = [s for s in self.upstreams if s not in self._documents]
            return dict(self._documents), missing

    async def _fetch(self, base_url: str) -> dict[str, Any]:
        response = await self.client.get(f"{base_url}/openapi.json", timeout=5)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document


SECURITY_SCHEMES: dict[str, Any] = {
    "oauth2": {
        "type": "oauth2",
        "description": "emplan 自签令牌（独立部署）。人员使用密码模式，机器客户端（省级平台）使用客户端凭证模式。",
        "flows": {
            "password": {"tokenUrl": "/api/v1/auth/token", "refreshUrl": "/api/v1/auth/token", "scopes": {}},
            "clientCredentials": {"tokenUrl": "/api/v1/auth/token", "scopes": {}},
        },
    },
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}


def add_security(document: dict[str, Any]) -> dict[str, Any]:
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    # Operations that take no token (the token endpoint, the JWKS) say so with `security: []`.
    document["security"] = [{"oauth2": []}, {"bearer": []}]
    return document
