"""plan-registry: the directory (regions, departments), plans and their content, document import."""
