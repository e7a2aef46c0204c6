"""Least squares, ridge, lasso, polynomial features, costs and likelihoods (SYLLABUS 1)."""

__all__: list[str] = []
