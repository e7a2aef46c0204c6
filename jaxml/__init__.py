"""jaxml: an introductory machine-learning course as pure, jit-compiled, vmappable JAX functions.

Families: ``jaxml.linear``, ``jaxml.optim``, ``jaxml.selection``, ``jaxml.kernels``,
``jaxml.fairness``, ``jaxml.unsupervised``; scikit-learn-style estimators in ``jaxml.sklearn``;
the shared machinery in ``jaxml.core``.
"""

__version__ = "0.1.0"
