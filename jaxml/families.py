"""The one table of the course's families, in course order.

Every loader reads this table: the gradient checks (``import_families`` fills
``jaxml.core.gradcheck.REGISTRY``, since each family registers its hand gradients on import),
``jaxml bench`` (``import_bench_modules``), the studies behind ``jaxml tour`` and the experiments
(``import_study_modules``), the notebooks test and the README test. A new chapter is one more
``Family(...)`` line here. A listed module that does not import is an error, never skipped.

Several rows may share a module: regression (§1) and logistic regression (§3) both live in
``jaxml.linear``, k-means/EM and matrix factorization (§6) in ``jaxml.unsupervised``. The last row
is the gradient-check machinery of ``jaxml.core`` itself, which has a study but no bench entry.
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType


@dataclasses.dataclass(frozen=True)
class Family:
    """One row of the syllabus.

    Attributes:
      name: a short unique name (``"regression"``).
      module: the public package holding the algorithms (``"jaxml.linear"``); importing it
        registers its hand gradients.
      chapter: the SYLLABUS section (``"1"``; ``"—"`` for the shared machinery).
      title: what the row covers, in words.
      bench_module: the module registering its ``jaxml bench`` entries, or ``None``.
      studies_module: the module registering its studies (``@study``), or ``None``.
      notebook: the stem of its notebook in ``notebooks/``, or ``None``.
    """

    name: str
    module: str
    chapter: str
    title: str
    bench_module: str | None = None
    studies_module: str | None = None
    notebook: str | None = None


FAMILIES: tuple[Family, ...] = (
    Family("regression", "jaxml.linear", "1", "linear regression, ridge, lasso",
           "jaxml.bench.linear", "jaxml.studies.regression", "01_regression_optimization"),
    Family("optim", "jaxml.optim", "1",
           "the course's optimizers, Newton and L-BFGS solvers, grid search, subgradient descent",
           "jaxml.bench.optim", "jaxml.studies.optimizers", "01_regression_optimization"),
    Family("selection", "jaxml.selection", "2", "split, K-fold cross-validation, bias-variance",
           None, "jaxml.studies.selection", "02_classification"),
    Family("logistic", "jaxml.linear", "3", "logistic and softmax regression",
           "jaxml.bench.classification", "jaxml.studies.classification", "02_classification"),
    Family("kernels", "jaxml.kernels", "3", "kNN, kernels, kernel ridge, SVM",
           "jaxml.bench.kernels", "jaxml.studies.kernels", "02_classification"),
    Family("linear_svm", "jaxml.kernels", "3", "LinearSVC: liblinear's problems (TRON, dual coordinate descent)",
           "jaxml.bench.linear_svc"),
    Family("kernel_svm", "jaxml.kernels", "3", "SVC: libsvm's problem by SMO, one-vs-one",
           "jaxml.bench.svc"),
    Family("fairness", "jaxml.fairness", "3", "independence, separation, sufficiency",
           "jaxml.bench.fairness", "jaxml.studies.fairness", "02_classification"),
    Family("nn", "jaxml.nn", "4", "MLP with hand backprop, normalization, dropout, CNN, ResNet, augmentation",
           "jaxml.bench.nn", "jaxml.studies.nn", "03_neural_networks"),
    Family("adversarial", "jaxml.adversarial", "5",
           "white-box and black-box attacks, transfer, adversarial training",
           "jaxml.bench.adversarial", "jaxml.studies.adversarial", "06_adversarial"),
    Family("clustering", "jaxml.unsupervised", "6", "k-means, k-means++, GMM by EM",
           "jaxml.bench.unsupervised", "jaxml.studies.unsupervised", "04_unsupervised"),
    Family("factorization", "jaxml.unsupervised", "6", "matrix factorization (SGD, ALS)",
           "jaxml.bench.factorization", "jaxml.studies.factorization", "04_unsupervised"),
    Family("gradient_checks", "jaxml.core", "—", "hand gradients vs autodiff and finite differences",
           None, "jaxml.studies.gradients", None),
)


def _import_each(field: str, families) -> list[ModuleType]:
    """Import the distinct non-empty ``field`` modules of ``families`` (default: the table as it
    is at call time), once each, in order; an import error propagates."""
    rows = FAMILIES if families is None else families
    names = dict.fromkeys(getattr(f, field) for f in rows if getattr(f, field))
    return [importlib.import_module(n) for n in names]


def import_families(families: tuple[Family, ...] | None = None) -> list[ModuleType]:
    """Import every family's module (each registers its hand gradients with
    ``jaxml.core.gradcheck.register_gradient``). Raises ``ModuleNotFoundError`` / ``ImportError``
    for a listed module that does not import."""
    return _import_each("module", families)


def import_bench_modules(families: tuple[Family, ...] | None = None) -> list[ModuleType]:
    """Import every ``bench_module`` of the table (each registers its ``jaxml bench`` entries);
    an import failure raises."""
    return _import_each("bench_module", families)


def import_study_modules(families: tuple[Family, ...] | None = None) -> list[ModuleType]:
    """Import every ``studies_module`` of the table, in course order (each registers its studies
    with ``@study``); an import failure raises."""
    return _import_each("studies_module", families)


__all__ = ["FAMILIES", "Family", "import_bench_modules", "import_families", "import_study_modules"]
