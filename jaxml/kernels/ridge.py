"""Kernel ridge regression in the dual (SYLLABUS 3)."""

__all__: list[str] = []
