"""Organisations (buyers and suppliers), their identifiers and the regions they sit in."""
