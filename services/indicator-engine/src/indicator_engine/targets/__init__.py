"""Plan targets: bound to indicator definitions from `plan.published`, with baseline rules."""
