"""Benchmark entries for the kernel SVM (``SVC``) — jaxml against libsvm on the same data in the
same process."""

from __future__ import annotations

__all__: list[str] = []
