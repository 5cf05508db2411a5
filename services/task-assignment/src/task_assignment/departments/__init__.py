"""The departments tasks are assigned to: a replica of plan-registry's directory, fed by its events."""
