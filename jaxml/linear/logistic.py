"""Logistic regression: binary and softmax, GD and Newton (SYLLABUS 3)."""

__all__: list[str] = []
