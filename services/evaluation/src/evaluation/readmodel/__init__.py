"""The evaluation's own read model: indicator-engine's target judgements and task-assignment's task
states, kept from their events (with history), from which a round's snapshot is taken."""
