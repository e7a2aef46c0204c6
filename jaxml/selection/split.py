"""Train/test split, K-fold indices, cross-validation and grid search (SYLLABUS 2)."""

__all__: list[str] = []
