"""The experiment scripts are thin, and the numbers their docstrings state hold at --quick size.

Each script runs registered studies through ``run_experiment``; here every study runs once at
quick size (seed 0, as ``--quick`` runs it) and ``CHECKS[script]`` asserts the docstring's
numbers on the study's metrics — the quick-size numbers where the docstring gives both.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

from jaxml.studies import StudyContext, StudyResult, load_studies, run_experiment

SCRIPTS = sorted((Path(__file__).parents[1] / "experiments").glob("*.py"))


def _imported_studies(script: Path):
    tree = ast.parse(script.read_text())
    return [getattr(importlib.import_module(node.module), a.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module.startswith("jaxml.studies.") for a in node.names]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_runs_registered_studies_and_states_its_command(script):
    doc = ast.get_docstring(ast.parse(script.read_text()))
    assert doc and f"experiments/{script.name}" in doc  # the docstring gives the command
    registered = {s.run for s in load_studies()}
    imported = _imported_studies(script)
    assert imported and set(imported) <= registered


def test_run_experiment_parses_the_command_line_and_writes_the_plots(tmp_path, capsys):
    seen = []

    def toy(ctx: StudyContext) -> StudyResult:
        seen.append((ctx.quick, ctx.seed))
        path = ctx.out_dir / "toy.png"
        path.write_bytes(b"png")
        return StudyResult(metrics={"answer": "42"}, figures=[path], summary="a toy study")

    (result,) = run_experiment(toy, out=str(tmp_path / "default"), argv=["--quick", "--seed", "3",
                                                                        "--out", str(tmp_path / "run")])
    assert seen == [(True, 3)] and result.figures == [tmp_path / "run" / "toy.png"]
    out = capsys.readouterr().out
    assert "answer: 42" in out and "a toy study" in out and f"wrote {tmp_path / 'run' / 'toy.png'}" in out


# ---- the docstrings' numbers at quick size -------------------------------------------------


def nums(text: str) -> list[float]:
    """The numbers in a formatted metric, in order ('0.870 (39 support vectors)' -> [0.87, 39.0])."""
    return [float(x) for x in re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text.replace("−", "-"))]


def num(m: dict, key: str) -> float:
    return nums(m[key])[0]


def near(value: float, target: float, factor: float) -> bool:
    """target / factor ≤ value ≤ target · factor (for errors that span decades)."""
    return target / factor <= value <= target * factor


def check_polynomial_degree(m):
    assert m["best degree (test MSE)"] == "3"
    train9, test9 = nums(m["degree 9 train / test MSE"])
    assert train9 < 1e-8 and test9 > 100 * 0.09  # interpolation: far above the noise variance
    assert num(m, "test MSE at best degree") < nums(m["degree 0 train / test MSE"])[1]


def check_optimizers(m):
    assert abs(num(m, "J* (lstsq)") - 0.241126) < 1e-6
    assert abs(num(m, "condition number of XᵀX/N") - 470) < 5
    gap = {k.split(": ", 1)[1].split(",")[0]: num(m, k) for k in m if k.startswith("J − J* after 200 steps")}
    # --quick (200 steps): momentum 3.6e-8, Adam 7.2e-4, GD 8.1e-4, sign-SGD 2.7e-3,
    # mini-batch 7.2e-3, SGD 1.8e-2.
    for name, target in [("momentum", 3.6e-8), ("Adam", 7.2e-4), ("GD", 8.1e-4), ("sign-SGD", 2.7e-3),
                         ("mini-batch SGD", 7.2e-3), ("SGD", 1.8e-2)]:
        assert near(gap[name], target, 1.5), (name, gap[name])
    schedules = {k.split(": ", 1)[1]: num(m, k) for k in m if k.startswith("J − J* after 1000 SGD")}
    constant = schedules.pop("constant γ = 0.02")
    assert near(constant, 2.0e-2, 1.5) and all(v < constant for v in schedules.values()), schedules


def check_regularization_paths(m):
    assert m["lasso: first features to enter"].split(", ")[0] == "bmi"
    assert num(m, "lasso at smallest λ vs least squares (‖Δw‖/‖w_LS‖)") < 5  # percent
    ridge = next(v for k, v in m.items() if k.startswith("ridge ‖w"))
    assert 0 < nums(ridge)[0] < 1


def check_bias_variance(m):
    assert m["best degree"] == "3"
    assert abs(num(m, "min expected test error") - 0.12) < 0.01
    assert num(m, "max |sum − MC error| / MC error") < 1.5  # percent; ~1% at --quick, 0.3% full
    bias1, bias_best = nums(m["bias² at d=1 / at best"])
    var_best, var_max = nums(m["variance at best / at max degree"])
    assert bias1 > 10 * bias_best and var_max > 10 * var_best


def check_cross_validation(m):
    assert 1e-6 <= num(m, "λ chosen by CV") <= 1e-4
    assert num(m, "test error at CV choice") <= 1.05 * num(m, "best test error (oracle λ)")


def check_logistic(m):
    assert 7 <= num(m, "Newton iterations to gap 1e-10") <= 9
    assert near(num(m, "GD gap after 300 steps"), 7.4e-3, 1.3)  # --quick: 300 steps


def check_svm_margin(m):
    assert m["KKT categories consistent"] == "True"
    assert num(m, "epochs to gap ≤ 1e-10") > 0 and ">" not in m["epochs to gap ≤ 1e-10"]
    assert sum(nums(m["α = 0 / 0<α<1 / α = 1"])) == num(m, "N")


def check_kernel_comparison(m):
    for model in ("SVM", "ridge"):
        assert 0.83 <= num(m, f"{model} linear test accuracy") <= 0.90
        assert num(m, f"{model} RBF test accuracy") >= 0.94
        assert num(m, f"{model} polynomial test accuracy") > num(m, f"{model} linear test accuracy")


def check_fairness(m):
    base = nums(m["base rates P(Y=1|A)"])
    assert nums(m["μ=0 mean score E[R|A] (calibrated ⇒ = base rates)"]) == pytest.approx(base, abs=0.02)
    acc0, ind0, sep0, suf0 = nums(m["μ=0 accuracy; gaps independence / separation / sufficiency"])
    acc_i, ind_i, _, suf_i = nums(m["μ_I=8 accuracy; gaps independence / separation / sufficiency"])
    acc_s, _, sep_s, suf_s = nums(m["μ_S=8 accuracy; gaps independence / separation / sufficiency"])
    # --quick: μ=0 0.872; 0.307 / 0.091 / 0.044; μ_I=8 0.805, 0.020, sufficiency 0.320;
    # μ_S=8 0.855, separation 0.030, sufficiency 0.154.
    assert [acc0, ind0, sep0, suf0] == pytest.approx([0.872, 0.307, 0.091, 0.044], abs=0.03)
    assert [acc_i, ind_i, suf_i] == pytest.approx([0.805, 0.020, 0.320], abs=0.03)
    assert [acc_s, sep_s, suf_s] == pytest.approx([0.855, 0.030, 0.154], abs=0.03)
    soft, bound = nums(m["impossibility: soft separation gap ≥ bound (μ=0, train)"])
    assert soft >= bound


def check_kmeans(m):
    assert m["elbow K (true 5)"] == "5"
    assert nums(m["ARI anisotropic: k-means / GMM"]) == pytest.approx([0.50, 0.99], abs=0.05)
    assert nums(m["ARI unequal sizes / spreads: k-means / GMM"]) == pytest.approx([0.11, 0.89], abs=0.05)
    assert nums(m["ARI outliers: k-means / GMM"]) == pytest.approx([0.57, 0.57], abs=0.05)


def check_gmm(m):
    assert nums(m["weights (true 0.5/0.3/0.2)"]) == pytest.approx([0.5, 0.3, 0.2], abs=0.02)
    assert abs(num(m, "ARI vs true components") - 0.97) < 0.02
    assert m["soft EM monotone"] == "True"
    soft, hard = nums(m["final log-likelihood soft / hard"])
    assert soft > hard > num(m, "hard EM objective (final)")


def check_matrix_factorization(m):
    # --quick (400×300, 15% observed, 8 epochs): ALS 0.330, SGD 0.355; full: 0.335, 0.357.
    assert abs(num(m, "ALS validation RMSE") - 0.330) < 0.01
    assert abs(num(m, "SGD validation RMSE") - 0.355) < 0.01
    assert num(m, "ALS validation RMSE") < num(m, "SGD validation RMSE")
    assert m["chosen K"].startswith("3 ")


def check_gradient_check_step(m):
    h32 = num(m, "measured optimal h, float32 (geometric mean of 3)")
    h64 = num(m, "measured optimal h, float64 (geometric mean of 3)")
    assert near(h32, 1.5e-2, 3) and near(h64, 1.5e-5, 3)
    assert h32 > num(m, "ε^(1/3) rule of thumb, float32") and h64 > num(m, "ε^(1/3) rule of thumb, float64")
    left, right = nums(m["float64 log-log slope left / right of the optimum (theory −1 / +2)"])
    assert left == pytest.approx(-1, abs=0.15) and right == pytest.approx(2, abs=0.15)
    assert num(m, "smallest error, float32 (worst of 3)") < 1e-4
    assert num(m, "smallest error, float64 (worst of 3)") < 1e-10


def check_neural_networks(m):
    assert num(m, "hand vs jax.grad, tanh (float64, max rel.)") < 1e-14
    assert num(m, "loss curves autodiff vs hand, 100 steps (float32, max rel.)") < 1e-5
    relu, sigmoid = nums(m["log-log slope ReLU / sigmoid (theory −2 / −1)"])
    assert relu == pytest.approx(-1.86, abs=0.1) and sigmoid == pytest.approx(-0.97, abs=0.1)
    assert near(num(m, "He: Var x last / first hidden layer"), 2.1, 2)
    assert num(m, "Xavier: Var x last / first hidden layer") < 1e-12
    assert num(m, "N(0, 0.01²): Var x last / first hidden layer") < 1e-80
    assert num(m, "N(0, 1): Var x last / first hidden layer") > 1e90
    assert nums(m["test accuracy none / batch norm / layer norm"]) == pytest.approx([0.10, 0.976, 0.970], abs=0.03)
    none = nums(m["none: train / test accuracy"])[1]
    assert nums(m["dropout 0.5: train / test accuracy"])[1] >= none
    assert nums(m["L2 term λ=1e-3: train / test accuracy"])[1] >= none
    adam, sgd = nums(m["max |θ_decoupled − θ_L2| Adam / SGD"])
    assert sgd == 0 and adam > 0.01
    assert num(m, "MLP test accuracy") == pytest.approx(0.975, abs=0.015)
    assert num(m, "CNN test accuracy") >= 0.98


def check_adversarial(m):
    clean = nums(m["clean accuracy standard / adversarial"])
    robust = nums(m["PGD L∞ accuracy at ε_train = 0.1 standard / adversarial"])
    assert clean == pytest.approx([0.972, 0.961], abs=0.02) and robust == pytest.approx([0.439, 0.769], abs=0.05)
    assert m["PGD accuracy ≤ FGSM accuracy at every ε"] == "True"
    for attack in ("PGD L∞", "PGD L2", "FGSM"):
        assert m[f"{attack} accuracy non-increasing in ε standard / adversarial"] == "True / True"
    assert nums(m["ε_train 0 / 0.05 / 0.1 / 0.2: clean accuracy"]) == pytest.approx([0.972, 0.967, 0.961, 0.925],
                                                                                     abs=0.02)
    assert num(m, "central differences (128 / step): success at 4096 queries") == pytest.approx(0.925, abs=0.05)
    assert num(m, "NES (64 / step): success at 4096 queries") == pytest.approx(0.825, abs=0.1)
    assert num(m, "central differences (128 / step): success at 64 / 128 / 512 queries") == 0
    start, _, end = nums(m["boundary: median ‖δ‖₂ random start / after binary search / end"])
    assert start == pytest.approx(4.05, abs=0.3) and end == pytest.approx(0.70, abs=0.15)
    assert nums(m["label queries / surrogate agreement on queries / held out"])[2] == pytest.approx(0.958, abs=0.03)
    assert nums(m["ε = 0.1: transfer / noise success on victim"]) == pytest.approx([0.24, 0.0], abs=0.07)
    assert nums(m["ε = 0.2: transfer / noise success on victim"]) == pytest.approx([0.85, 0.05], abs=0.07)


CHECKS = {
    "01_polynomial_degree": check_polynomial_degree,
    "02_optimizers": check_optimizers,
    "03_regularization_paths": check_regularization_paths,
    "04_bias_variance": check_bias_variance,
    "05_cross_validation": check_cross_validation,
    "06_logistic_gd_newton": check_logistic,
    "07_svm_margin": check_svm_margin,
    "08_kernel_comparison": check_kernel_comparison,
    "09_fairness": check_fairness,
    "10_kmeans_elbow": check_kmeans,
    "11_gmm_em": check_gmm,
    "12_matrix_factorization": check_matrix_factorization,
    "13_gradient_check_step": check_gradient_check_step,
    "14_neural_networks": check_neural_networks,
    "15_adversarial": check_adversarial,
}


def test_every_experiment_has_its_numbers_checked():
    assert set(CHECKS) == {p.stem for p in SCRIPTS}


@pytest.fixture(scope="module")
def quick_metrics(tmp_path_factory):
    """run(study) -> its metrics at --quick size, seed 0; each study runs once per module."""
    cache = {}

    def run(fn):
        if fn not in cache:
            cache[fn] = fn(StudyContext(tmp_path_factory.mktemp(fn.__name__), quick=True, seed=0)).metrics
        return cache[fn]

    return run


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_docstring_numbers_hold_at_quick_size(script, quick_metrics):
    metrics = {}
    for fn in _imported_studies(script):
        metrics.update(quick_metrics(fn))
    CHECKS[script.stem](metrics)
