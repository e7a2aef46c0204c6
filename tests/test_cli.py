import pytest

from jaxml.cli import build_parser, main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("tour", "gradcheck", "bench"):
        assert command in out


def test_bench_lists_entries(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("ridge_fit", "ridge_cv", "lasso_path"):
        assert name in out


def test_unknown_bench_entry_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown benchmark entries"):
        main(["bench", "--only", "no_such_entry"])


def test_tour_quick_writes_report_and_plots(tmp_path, capsys):
    assert main(["tour", "--quick", "--out", str(tmp_path), "--only", "polynomial_degree"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "polynomial_degree" in report and ".png" in report
    assert list(tmp_path.glob("*.png"))
    assert "report:" in capsys.readouterr().out


def test_tour_unknown_study():
    with pytest.raises(ValueError, match="no study matches"):
        main(["tour", "--only", "nonexistent_study", "--out", "/tmp/jaxml-tour-unused"])


def test_parser_defaults():
    args = build_parser().parse_args(["bench"])
    assert args.size == 1.0 and args.out == "runs/bench"
