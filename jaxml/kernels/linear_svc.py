"""Linear SVMs with liblinear's problems (squared hinge and hinge, L2 and L1 penalties)."""

__all__: list[str] = []
