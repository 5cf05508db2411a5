"""Events: the CloudEvents envelope and the catalogue of every event type with its payload schema."""

from emplan_shared.events.catalogue import CATALOGUE, EventSpec
from emplan_shared.events.envelope import CloudEvent, new_event

__all__ = ["CATALOGUE", "CloudEvent", "EventSpec", "new_event"]
