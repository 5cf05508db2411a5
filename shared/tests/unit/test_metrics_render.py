"""emplan's own rendering of /metrics says what prometheus_client's `generate_latest` says, sample for
sample (read back with prometheus_client's parser), label values with quotes, backslashes and
newlines included; and route templates lose their convertors."""

from __future__ import annotations

from typing import ClassVar

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from emplan_shared.app import create_service_app
from emplan_shared.db import new_metadata
from emplan_shared.messaging.tables import add_messaging_tables
from emplan_shared.metrics import Metrics, route_template
from emplan_shared.settings import ServiceSettings


class _Settings(ServiceSettings):
    service_name: ClassVar[str] = "render-test"


def _metrics() -> Metrics:
    app = create_service_app(
        settings=_Settings(),
        title="t",
        description="",
        routers=[],
        messaging=add_messaging_tables(new_metadata()),
    )
    metrics: Metrics = app.state.metrics
    return metrics


def _samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_same_samples_as_prometheus_client() -> None:
    metrics = _metrics()
    odd = 'a "quoted" \\ back\nslash'
    for route, status, seconds in (("/a/{id}", "200", 0.003), ("/a/{id}", "404", 0.2), (odd, "500", 7.0)):
        metrics.requests.labels("GET", route, status).inc()
        metrics.latency.labels("GET", route).observe(seconds)
    ours = metrics.render().decode()
    theirs = generate_latest(metrics.registry).decode()
    assert _samples(ours) == _samples(theirs)
    # Worked by hand: the 0.2 s request falls in the 0.25 bucket and every one above, not in 0.1.
    samples = _samples(ours)
    bucket = "emplan_http_request_duration_seconds_bucket"
    labels = (("le", "0.25"), ("method", "GET"), ("route", "/a/{id}"))
    assert (bucket, labels, 2.0) in samples
    assert (bucket, (("le", "0.1"), ("method", "GET"), ("route", "/a/{id}")), 1.0) in samples
    assert (
        "emplan_http_requests_total",
        (("method", "GET"), ("route", odd), ("status", "500")),
        1.0,
    ) in samples
    # No `_created` series.
    assert "_created" not in ours


def test_route_template() -> None:
    assert route_template("/api/v1/plans/{plan_id:uuid}/versions") == "/api/v1/plans/{plan_id}/versions"
    assert (
        route_template("/api/v1/indicators/values/{value_id:int}") == "/api/v1/indicators/values/{value_id}"
    )
    assert route_template("/readyz") == "/readyz"
