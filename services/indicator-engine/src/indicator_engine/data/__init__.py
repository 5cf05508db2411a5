"""Data values: one figure of a data element for a region, year and (optionally) month, with its
approval state and its history; entered one at a time or loaded in bulk (JSON, CSV, .xlsx)."""
