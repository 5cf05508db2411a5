"""Computed results: values rolled up from data values, progress and status of targets, early warnings."""
