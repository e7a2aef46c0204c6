"""Independence, separation and sufficiency with a sensitive attribute (SYLLABUS 3)."""

__all__: list[str] = []
