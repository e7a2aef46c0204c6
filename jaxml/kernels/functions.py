"""Kernel functions, Gram matrices and the Mercer check (SYLLABUS 3)."""

__all__: list[str] = []
