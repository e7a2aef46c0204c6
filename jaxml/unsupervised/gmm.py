"""Gaussian mixture models: hard and soft EM in log space (SYLLABUS 6)."""

__all__: list[str] = []
