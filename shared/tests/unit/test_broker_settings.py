"""A NATS cluster from the settings: several server URLs, and the number of copies of each stream."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError

from emplan_shared.messaging.broker import STREAMS, server_urls, stream_configs
from emplan_shared.settings import ServiceSettings


class _Settings(ServiceSettings):
    service_name: ClassVar[str] = "broker-test"


def test_several_servers_comma_separated() -> None:
    assert server_urls("nats://n1:4222, nats://n2:4222,nats://n3:4222,") == [
        "nats://n1:4222",
        "nats://n2:4222",
        "nats://n3:4222",
    ]
    assert server_urls("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]


def test_stream_replicas_change_nothing_else() -> None:
    three = stream_configs(3)
    assert [c.num_replicas for c in three] == [3, 3]
    assert [c.name for c in three] == ["EMPLAN_EVENTS", "EMPLAN_DEAD_LETTERS"]
    # The shipped definitions are not changed in place, and the rest of each config is the same.
    assert [c.num_replicas for c in STREAMS] == [None, None]
    assert [(c.subjects, c.max_age, c.duplicate_window) for c in three] == [
        (c.subjects, c.max_age, c.duplicate_window) for c in STREAMS
    ]


def test_replicas_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _Settings().nats_stream_replicas == 1
    monkeypatch.setenv("EMPLAN_NATS_STREAM_REPLICAS", "3")
    assert _Settings().nats_stream_replicas == 3
    monkeypatch.setenv("EMPLAN_NATS_STREAM_REPLICAS", "0")
    with pytest.raises(ValidationError):
        _Settings()
