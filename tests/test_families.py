"""The one table of families: every loader reads it, every listed module imports, nothing
outside it is silently left out, and the README's syllabus table names every family's module."""

import importlib
import re
from pathlib import Path

import pytest

from jaxml import families
from jaxml.families import FAMILIES, Family, import_bench_modules, import_families, import_study_modules

ROOT = Path(__file__).parents[1]


def test_names_are_unique_and_rows_are_in_course_order():
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    numbered = [int(f.chapter) for f in FAMILIES if f.chapter.isdigit()]
    assert numbered == sorted(numbered) and numbered
    # The shared machinery ("—") comes after the numbered chapters.
    assert all(f.chapter.isdigit() for f in FAMILIES[: len(numbered)])


def test_every_listed_module_imports():
    mods = [m.__name__ for m in import_families()]
    assert mods == list(dict.fromkeys(f.module for f in FAMILIES))
    assert [m.__name__ for m in import_bench_modules()] == [f.bench_module for f in FAMILIES if f.bench_module]
    assert [m.__name__ for m in import_study_modules()] == [f.studies_module for f in FAMILIES if f.studies_module]


@pytest.mark.parametrize("field", ["module", "bench_module", "studies_module"])
def test_a_listed_module_that_does_not_import_is_an_error(field):
    row = Family("typo", "jaxml.linear", "1", "a misspelled entry", None, None, None)
    row = Family(**{**row.__dict__, field: "jaxml.no_such_module"})
    loader = {"module": import_families, "bench_module": import_bench_modules,
              "studies_module": import_study_modules}[field]
    with pytest.raises(ModuleNotFoundError, match="jaxml.no_such_module"):
        loader((row,))


def test_load_studies_reads_the_table(monkeypatch):
    from jaxml.studies import load_studies

    row = Family("typo", "jaxml.linear", "1", "a misspelled entry", studies_module="jaxml.studies.regresion")
    monkeypatch.setattr(families, "FAMILIES", (row,))
    with pytest.raises(ModuleNotFoundError, match="regresion"):
        load_studies()


def test_the_studies_come_in_the_order_of_the_table():
    from jaxml.studies import load_studies

    order = [f.studies_module for f in FAMILIES if f.studies_module]
    modules = [s.run.__module__ for s in load_studies()]
    assert set(modules) == set(order)
    assert sorted(modules, key=order.index) == modules


@pytest.mark.parametrize("folder", ["bench", "studies"])
def test_no_bench_or_study_module_is_left_out_of_the_table(folder):
    listed = {f.bench_module if folder == "bench" else f.studies_module for f in FAMILIES}
    files = {f"jaxml.{folder}.{p.stem}" for p in (ROOT / "jaxml" / folder).glob("*.py")
             if p.stem not in ("__init__", "harness")}
    assert files <= listed, files - listed


def test_every_bench_and_study_module_registers_something():
    from jaxml.bench.harness import load_entries
    from jaxml.studies import load_studies

    bench = {e.run.__module__ for e in load_entries().values()}
    studies = {s.run.__module__ for s in load_studies()}
    for f in FAMILIES:
        assert f.bench_module is None or f.bench_module in bench, f
        assert f.studies_module is None or f.studies_module in studies, f


def test_core_gradient_checks_import_no_family():
    gradcheck = importlib.import_module("jaxml.core.gradcheck")
    source = Path(gradcheck.__file__).read_text()
    family_modules = {f.module for f in FAMILIES} - {"jaxml.core"}
    assert not [m for m in family_modules if re.search(rf"\bimport {re.escape(m)}\b|from {re.escape(m)}\b", source)]


def _readme_syllabus_modules() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The syllabus and where it lives", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and not line.startswith("|---")]
    modules = set()
    for row in rows[1:]:  # the header row is not a family
        cells = [c.strip() for c in row.strip("|").split("|")]
        modules |= set(re.findall(r"`(jaxml(?:\.\w+)*)`", cells[2]))
    return modules


def test_the_readme_syllabus_table_lists_every_family_module():
    modules = _readme_syllabus_modules()
    assert "jaxml.linear" in modules  # the table was found and parsed
    missing = sorted({f.module for f in FAMILIES} - modules)
    assert not missing, f"README's syllabus table does not name {missing}"
