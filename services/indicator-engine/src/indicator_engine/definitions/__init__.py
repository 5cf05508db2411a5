"""Indicator definitions and the data elements they are computed from, stored and edited through the API."""
