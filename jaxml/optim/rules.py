"""The course's update rules as optax.GradientTransformations (SYLLABUS 1)."""

__all__: list[str] = []
