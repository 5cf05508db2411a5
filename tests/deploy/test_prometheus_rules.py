"""deploy/prometheus: the alert rules are what Prometheus loads (structure as `promtool check rules`
wants it, every expression valid PromQL, parsed by promql-parser) and name only metrics the services
export, as rendered by a real app of the shared factory; the scrape configuration loads them."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, ClassVar

import promql_parser
import pytest
import yaml
from prometheus_client import Metric

from emplan_shared.app import create_service_app
from emplan_shared.db import new_metadata
from emplan_shared.messaging.tables import add_messaging_tables
from emplan_shared.settings import ServiceSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"]]
DURATION = re.compile(r"^(\d+[smhdwy])+$")
# Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up"}


class _Settings(ServiceSettings):
    service_name: ClassVar[str] = "rules-test"


@functools.cache
def exported_names() -> frozenset[str]:
    """Every series name a service's /metrics can carry, from the app's own registry."""
    app = create_service_app(
        settings=_Settings(),
        title="t",
        description="",
        routers=[],
        messaging=add_messaging_tables(new_metadata()),
    )
    names: set[str] = set()
    family: Metric
    for family in app.state.metrics.registry.collect():
        if family.type == "counter":
            names |= {family.name + "_total"}
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_count", "_sum")}
        else:
            names.add(family.name)
    return frozenset(names)


def selectors(node: Any) -> list[Any]:
    """Every vector selector in a parsed expression."""
    if isinstance(node, promql_parser.VectorSelector):
        return [node]
    found: list[Any] = []
    for attribute in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        if child is not None:
            found += selectors(child)
    for argument in getattr(node, "args", None) or []:
        found += selectors(argument)
    return found


def test_rule_file_structure() -> None:
    assert set(RULES) == {"groups"}
    names = [group["name"] for group in RULES["groups"]]
    assert len(names) == len(set(names))
    alerts = [rule["alert"] for rule in ALERTS]
    assert len(alerts) == len(set(alerts))
    for rule in ALERTS:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule[
            "alert"
        ]
        assert re.fullmatch(r"Emplan[A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert {"summary", "description"} <= set(rule["annotations"])
        if "for" in rule:
            assert DURATION.match(rule["for"]), rule["alert"]


@pytest.mark.parametrize("rule", ALERTS, ids=lambda rule: rule["alert"])
def test_expression_is_promql_on_exported_metrics(rule: dict[str, Any]) -> None:
    parsed = promql_parser.parse(rule["expr"])
    used = {selector.name for selector in selectors(parsed)}
    assert used, rule["alert"]
    unknown = used - exported_names() - PROMETHEUS_OWN
    assert not unknown, f"{rule['alert']} names metrics no service exports: {unknown}"


def test_bad_promql_is_refused_by_the_parser() -> None:
    # The check above can fail: the parser refuses what Prometheus would.
    with pytest.raises(Exception):  # noqa: B017,PT011
        promql_parser.parse("sum by (job) (rate(emplan_http_requests_total[5m])")


def test_the_operations_guide_explains_every_alert() -> None:
    guide = (DEPLOY.parents[1] / "docs" / "operations.md").read_text()
    for rule in ALERTS:
        assert f"`{rule['alert']}`" in guide, rule["alert"]


def test_scrape_configuration_loads_the_rules_and_scrapes_every_service() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"plan-registry", "indicator-engine", "task-assignment", "evaluation", "gateway"}
    gateway = next(job for job in config["scrape_configs"] if job["job_name"] == "gateway")
    assert "credentials_file" in gateway["authorization"]
