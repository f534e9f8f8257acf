"""Contracts signed from awards: amendments, payments and milestones."""
