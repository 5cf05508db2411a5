"""The plans the evaluation may run rounds for: a replica of plan-registry's published plans, kept
from `plan.published` / `plan.superseded` (the service never reads another service's tables)."""
