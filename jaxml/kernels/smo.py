"""Sequential minimal optimization (SMO) for the kernel SVM with an unregularized intercept."""

__all__: list[str] = []
