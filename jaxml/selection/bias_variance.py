"""Bias-variance decomposition by resampling, Hoeffding bounds (SYLLABUS 2)."""

__all__: list[str] = []
