"""k-means: Lloyd's algorithm, k-means++ seeding, restarts and the elbow (SYLLABUS 6)."""

__all__: list[str] = []
