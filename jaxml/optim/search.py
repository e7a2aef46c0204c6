"""Brute-force grid search and subgradient descent (SYLLABUS 1)."""

__all__: list[str] = []
