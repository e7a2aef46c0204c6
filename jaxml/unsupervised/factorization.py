"""Matrix factorization over observed entries: SGD and ALS (SYLLABUS 6)."""

__all__: list[str] = []
