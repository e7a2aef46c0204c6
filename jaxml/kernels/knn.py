"""k-nearest neighbours, classification and regression (SYLLABUS 3)."""

__all__: list[str] = []
