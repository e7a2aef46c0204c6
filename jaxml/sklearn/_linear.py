"""scikit-learn-compatible estimators over jaxml's functional core."""

__all__: list[str] = []
