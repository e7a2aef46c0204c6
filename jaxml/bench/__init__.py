"""``jaxml bench``: jaxml against the libraries users already trust, on the same data.

Entries live in one module per family (``jaxml/bench/<family>.py``) and register themselves
with ``jaxml.bench.harness.register``.
"""

from jaxml.bench.harness import (
    BenchResult,
    BenchSkip,
    register,
    run_benchmarks,
    time_jax,
    time_reference,
)

__all__ = ["BenchResult", "BenchSkip", "register", "run_benchmarks", "time_jax", "time_reference"]
