"""Push to a provincial platform: the NATS configuration a county and a province deploy so the
province's JetStream *sources* the county's event stream over a leaf-node link.

The county runs its own JetStream in its own domain (`emplan-<region code>`) and accepts leaf-node
connections; the province's nats-server connects to it as a leaf node (outbound from the province,
so the county opens one inbound port) and keeps a stream `EMPLAN_SUBTREE` whose sources are the
counties' `EMPLAN_EVENTS`, reached through each county's domain-qualified API
(`$JS.emplan-<code>.API`), each event's subject prefixed with its county
(`emplan.>` → `county.<code>.emplan.>`). JetStream keeps each source's position in the province's
store: after the link drops (or the province's server restarts) it resumes from the next sequence,
so every event arrives once and in the county's order.

    emplan push-config county 140902 ...   (see `county_config`, `province_config`, `subtree_stream`)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)

from emplan_shared.messaging.broker import EVENTS_STREAM

SUBTREE_STREAM = "EMPLAN_SUBTREE"
_REGION = re.compile(r"^\d{6}$")


def _region(code: str) -> str:
    if not _REGION.match(code):
        raise ValueError(f"not a six-digit region code: {code!r}")
    return code


def domain_for(region_code: str) -> str:
    """The JetStream domain of a deployment: unique per region, no dots (it is a subject token)."""
    return f"emplan-{_region(region_code)}"


def api_prefix(region_code: str) -> str:
    return f"$JS.{domain_for(region_code)}.API"


def subject_prefix(region_code: str) -> str:
    """Where a county's events land in the province: `county.<code>.` + the county's subject."""
    return f"county.{_region(region_code)}."


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _quote(value: str) -> str:
    return json.dumps(value)  # the NATS configuration format accepts JSON strings


def _jetstream(region_code: str, store_dir: Path) -> str:
    """JetStream in the deployment's own domain, fsynced before every acknowledgement (as `make run`)."""
    return f"""\
jetstream {{
  store_dir: {_quote(str(store_dir))}
  domain: {_quote(domain_for(region_code))}
  sync_interval: always
}}
"""


def county_config(
    region_code: str,
    *,
    client: Listen,
    leafnodes: Listen,
    store_dir: Path,
    monitor: Listen | None = None,
) -> str:
    """A county deployment's nats-server: JetStream in its own domain, accepting the province's
    leaf-node connection. (In production, add `tls` and `authorization` to the `leafnodes` block.)"""
    monitoring = f"http: {_quote(str(monitor))}\n" if monitor is not None else ""
    return f"""\
# emplan county deployment {region_code}: written by emplan_tools.push
server_name: {_quote("county-" + _region(region_code))}
listen: {_quote(str(client))}
{monitoring}
{_jetstream(region_code, store_dir)}
leafnodes {{
  listen: {_quote(str(leafnodes))}
}}
"""


def province_config(
    region_code: str,
    *,
    client: Listen,
    store_dir: Path,
    counties: Sequence[str],
    monitor: Listen | None = None,
) -> str:
    """The provincial platform's nats-server: its own JetStream domain, one leaf-node remote per
    county deployment (`counties`: `nats-leaf://host:port` URLs)."""
    monitoring = f"http: {_quote(str(monitor))}\n" if monitor is not None else ""
    remotes = ",\n".join(f"    {{ url: {_quote(url)} }}" for url in counties)
    return f"""\
# emplan provincial platform {region_code}: written by emplan_tools.push
server_name: {_quote("province-" + _region(region_code))}
listen: {_quote(str(client))}
{monitoring}
{_jetstream(region_code, store_dir)}
leafnodes {{
  reconnect: 1
  remotes: [
{remotes}
  ]
}}
"""


def county_source(region_code: str, *, events: str = "emplan.>") -> StreamSource:
    """One county's `EMPLAN_EVENTS` as a source of the provincial stream: the events matching
    `events` (all by default; e.g. `emplan.plan.>` for plans only), under the county's prefix.
    (A transform's source subject is also its filter: the two cannot be set together.)"""
    return StreamSource(
        name=EVENTS_STREAM,
        external=ExternalStream(api=api_prefix(region_code)),
        subject_transforms=[SubjectTransform(src=events, dest=subject_prefix(region_code) + events)],
    )


def subtree_stream(counties: Sequence[str], *, name: str = SUBTREE_STREAM) -> StreamConfig:
    """The provincial stream: every county's events, each under its county's prefix; no subjects
    of its own (nothing is published to it directly)."""
    return StreamConfig(
        name=name,
        sources=[county_source(code) for code in counties],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=365 * 24 * 3600.0,
        description="Events of the counties below, sourced over leaf-node links (emplan push).",
    )


__all__ = [
    "SUBTREE_STREAM",
    "Listen",
    "api_prefix",
    "county_config",
    "county_source",
    "domain_for",
    "province_config",
    "subject_prefix",
    "subtree_stream",
]
