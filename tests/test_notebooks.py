"""Every notebook executes top to bottom at small size (JAXML_QUICK=1) and computes what it says.

Each notebook collects its headline numbers in a dict ``RESULTS`` and prints it as one JSON line
(``RESULTS {...}``) in its last cell; ``CHECKS[notebook]`` asserts on those numbers.
"""

import json
import math
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jaxml.families import FAMILIES

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_every_family_has_its_notebook_and_every_notebook_a_family():
    listed = {f.notebook for f in FAMILIES if f.notebook}
    assert listed == {p.stem for p in NOTEBOOKS}


def _execute(path: Path, tmp_path: Path, monkeypatch) -> tuple[str, dict]:
    """Run the notebook at small size; its stream output and the RESULTS it printed."""
    monkeypatch.setenv("JAXML_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    lines = [line for line in text.splitlines() if line.startswith("RESULTS ")]
    assert len(lines) == 1, "the last cell prints RESULTS as one JSON line"
    return text, json.loads(lines[0].removeprefix("RESULTS "))


def _first(text: str) -> float:
    return float(text.split(" ")[0])


def check_regression_optimization(r):
    assert r["least squares: max |w - sklearn|"] < 1e-2  # float32, coefficients of size ~10²
    nonzeros = r["lasso non-zeros at each tenth λ"]
    assert nonzeros[0] == 10 and nonzeros[-1] < 10 and nonzeros == sorted(nonzeros, reverse=True)
    assert r["best polynomial degree"] == 3
    gaps = {k.rsplit(": ", 1)[1]: v for k, v in r.items() if k.startswith("J - J*")}
    assert abs(gaps["momentum"]) < 1e-5  # the float32 floor after 300 steps
    assert 0 < gaps["GD"] < 2e-3 and 0 < gaps["Adam"] < 2e-3
    assert 0 < gaps["sign-SGD"] < 1e-2 and 0 < gaps["mini-batch SGD"] < 1e-2
    passed, run = r["gradient checks passed / run"]
    assert passed == run >= 3


def check_classification(r):
    assert 1e-6 <= r["ridge CV best λ"] <= 1.0
    # ε = (b − a) √(log(2/δ) / 2N)
    assert r["Hoeffding ε (N=1000, δ=0.05)"] == pytest.approx(math.sqrt(math.log(2 / 0.05) / 2000), rel=1e-5)
    assert r["bias_variance"]["best degree"] == "3"
    assert 7 <= r["Newton iterations"] <= 12
    assert r["logistic: max |coef - sklearn|"] < 1e-2
    assert r["5-NN digits accuracy"] > 0.9
    assert r["RBF is Mercer"] is True and r["sigmoid is Mercer"] is False
    assert r["logistic_gd_vs_newton"]["Newton iterations to gap 1e-10"] == "8"
    assert r["svm_margin"]["KKT categories consistent"] == "True"
    kernels = r["kernel_comparison"]
    assert _first(kernels["SVM RBF test accuracy"]) > _first(kernels["SVM linear test accuracy"])
    fair = r["fairness_criteria"]
    soft, bound = (float(x) for x in fair["impossibility: soft separation gap ≥ bound (μ=0, train)"].split(" ≥ "))
    assert soft >= bound


def check_unsupervised(r):
    ours, ref = r["k-means inertia jaxml / sklearn"]
    assert abs(ours - ref) <= 1e-4 * ref and r["k-means same labels as sklearn"]
    assert r["kmeans_elbow"]["elbow K (true 5)"] == "5"
    assert r["soft EM monotone"] is True
    assert abs(r["ELBO(posterior) - loglik"]) < 1e-2  # float32 sums over 150 points
    assert abs(r["ELBO(uniform) + KL - loglik"]) < 1e-2
    assert r["ELBO(uniform) - loglik"] < -1.0  # the ELBO is a strict lower bound away from the posterior
    assert r["em_hard_vs_soft"]["soft EM monotone"] == "True"


def check_neural_networks(r):
    assert r["hand vs autodiff max rel (float64)"] < 1e-10
    passed, run = r["gradient checks passed / run"]
    assert passed == run >= 15  # MLP, batch/layer norm and convolution checks
    assert float(r["nn_backprop"]["loss curves autodiff vs hand, 100 steps (float32, max rel.)"]) < 1e-4
    assert r["conv output sizes match the formula"] is True
    assert r["conv forward/backward vs lax.conv max rel (float64)"] < 1e-10
    slopes = r["nn_bumps"]["log-log slope ReLU / sigmoid (theory −2 / −1)"]
    slope_relu, slope_sigmoid = (float(x) for x in slopes.split(" / "))
    assert -2.2 < slope_relu < -1.7 and -1.2 < slope_sigmoid < -0.8
    init = r["nn_initialization"]
    assert 0.05 < float(init["He: Var x last / first hidden layer"]) < 20
    assert float(init["Xavier: Var x last / first hidden layer"]) < 1e-10  # 2^-50: vanishing
    assert float(init["N(0, 1): Var x last / first hidden layer"]) > 1e50  # exploding
    accuracies = r["nn_batch_norm"]["test accuracy none / batch norm / layer norm"]
    none, batch, layer = (float(x) for x in accuracies.split(" / "))
    assert none < 0.3 and batch > 0.9 and layer > 0.8  # 20 tanh layers: only the normalized nets learn
    digits = r["nn_digits"]
    assert float(digits["CNN test accuracy"]) >= 0.97 and float(digits["MLP test accuracy"]) >= 0.95
    assert float(r["nn_regularization"]["max |θ_decoupled − θ_L2| Adam / SGD"].split(" / ")[1]) < 1e-6


def check_adversarial(r):
    def pair(text):
        return [float(x) for x in text.split(" / ")]

    assert r["logistic: FGSM / L2 step / gradient vs closed form, max abs (float64)"] < 1e-12
    assert r["logistic: logit shift vs ε‖w‖₁, ε‖w‖₂, max abs (float64)"] < 1e-12
    passed, run = r["gradient checks passed / run"]
    assert passed == run >= 1
    acc = r["adv_accuracy_vs_eps"]
    clean_std, clean_adv = pair(acc["clean accuracy standard / adversarial"])
    assert clean_std > 0.93 and clean_adv > 0.9
    robust_std, robust_adv = pair(acc["PGD L∞ accuracy at ε_train = 0.1 standard / adversarial"])
    assert robust_adv > robust_std + 0.2 and robust_adv <= clean_adv and robust_std < 0.7
    assert acc["PGD L∞ accuracy non-increasing in ε standard / adversarial"] == "True / True"
    assert acc["PGD accuracy ≤ FGSM accuracy at every ε"] == "True"
    clean_by_radius = pair(acc["ε_train 0 / 0.05 / 0.1 / 0.2: clean accuracy"])
    robust_by_radius = pair(acc["ε_train 0 / 0.05 / 0.1 / 0.2: PGD L∞ accuracy at ε = 0.1"])
    assert clean_by_radius[-1] < clean_by_radius[0]  # the trade-off, measured
    assert robust_by_radius[2] > robust_by_radius[0] + 0.2
    examples = r["adv_examples"]
    bounded = [k for k in examples if k.endswith("/ ε")]
    assert len(bounded) == 3
    for k in bounded:
        size, eps = pair(examples[k])
        assert 0.9 * eps <= size <= eps * (1 + 1e-5), k  # inside the ball, and the attack used it
    bb = r["adv_blackbox_queries"]
    assert float(bb["central differences (128 / step): success at 4096 queries"]) > 0.5
    assert float(bb["NES (64 / step): success at 4096 queries"]) > 0.5
    # 64 queries buy no central-difference step (2D = 128), but one NES step
    fd_64 = pair(bb["central differences (128 / step): success at 64 / 128 / 512 queries"])[0]
    nes_64 = pair(bb["NES (64 / step): success at 64 / 128 / 512 queries"])[0]
    assert fd_64 == 0.0 and nes_64 > 0.0
    assert bb["queries spent ≤ budget"] == "True"
    start, after_search, end = pair(bb["boundary: median ‖δ‖₂ random start / after binary search / end"])
    assert end < after_search < start and end < 0.5 * start
    transfer = r["adv_transfer"]
    assert pair(transfer["label queries / surrogate agreement on queries / held out"])[2] > 0.85
    for eps in (0.1, 0.2):
        transferred, noise = pair(transfer[f"ε = {eps}: transfer / noise success on victim"])
        assert transferred > noise + 0.1


CHECKS = {
    "01_regression_optimization": check_regression_optimization,
    "02_classification": check_classification,
    "03_neural_networks": check_neural_networks,
    "04_unsupervised": check_unsupervised,
    "06_adversarial": check_adversarial,
}


def test_every_notebook_has_its_numbers_checked():
    assert set(CHECKS) == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_computes_its_numbers(path, tmp_path, monkeypatch):
    text, results = _execute(path, tmp_path, monkeypatch)
    assert "devices" in text  # the first cell reports jax.devices()
    CHECKS[path.stem](results)


class _RecordingShell:
    """Stands in for IPython's shell: records line magics, their {expressions} expanded in the
    cell's namespace as IPython does, instead of running them."""

    def __init__(self):
        self.magics = []
        self.namespace = {"get_ipython": lambda: self}

    def run_line_magic(self, name, line):
        from IPython.utils.text import DollarFormatter

        self.magics.append((name, DollarFormatter().vformat(line, (), self.namespace)))


def _run_install_part(path: Path, monkeypatch, source: str | None) -> _RecordingShell:
    """Execute the first code cell's install block as if jaxml were not installed."""
    import importlib.metadata

    from IPython.core.inputtransformer2 import TransformerManager

    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    install_block = cell.source.split("\nimport jax\n")[0]
    code = TransformerManager().transform_cell(install_block)  # %pip → get_ipython().run_line_magic

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    if source is None:
        monkeypatch.delenv("JAXML_SOURCE", raising=False)
    else:
        monkeypatch.setenv("JAXML_SOURCE", source)
    shell = _RecordingShell()
    exec(compile(code, str(path), "exec"), shell.namespace)
    return shell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_first_cell_installs_only_from_jaxml_source(path, monkeypatch):
    """Without jaxml, the first cell names JAXML_SOURCE and installs nothing (never the unrelated
    "jaxml" of the package index); with it set, it installs from exactly that location."""
    with pytest.raises(RuntimeError, match="JAXML_SOURCE"):
        _run_install_part(path, monkeypatch, None)
    shell = _run_install_part(path, monkeypatch, "/content/jaxml")
    assert shell.magics == [("pip", "install -q /content/jaxml")]
