"""Accounts of people and machine clients, with their roles, region and department."""
