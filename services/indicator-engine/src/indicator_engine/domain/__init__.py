"""The pure computation core of indicator-engine: no database, no HTTP, no events.

- `decimals`: the exact-decimal policy every other module follows.
- `catalogue`: indicator definitions and data elements as project data; name matching.
- `targets`: a plan target bound to a definition (type, value, strictness, baseline rule, years).
- `compute`: an indicator's value for a region and year (or years) from data values of the region and
  the regions below it, with incompleteness and undefined results reported, never hidden.
- `progress`: time-proportional progress (序时进度) and the met / on_track / lagging /
  seriously_lagging status.
- `open_sdg`: the second method, the Open SDG progress assessment.
- `projection`: projection to the target year and the early warning for binding targets.
"""
