"""Support vector machines: hinge loss, primal SGD, dual coordinate ascent (SYLLABUS 3)."""

__all__: list[str] = []
