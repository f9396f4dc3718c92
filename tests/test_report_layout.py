"""The layout of a run's report: the summary table first (before any other section, in report.md and
report.html), one confusion figure per pair, the paired table's columns, "not run" cells with
their command, and the resolved config out of the way at the end."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import xarray as xr

from neurosim.analysis.study import Analysis, SummaryCell
from neurosim.report import build
from neurosim.report.document import Document, Table
from neurosim.report.paired import PAIRED_HEADER

from .conftest import tiny_comparison

TWO_PAIRS = tiny_comparison(
    name="two_pairs",
    pairs=["perceptron_linear", "perceptron_averaged_linear"],
    task={"n_per_class": 20},
)


class Outline(HTMLParser):
    """Top-level blocks of a report page in order: headings (with text), tables, details."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[list[str]] = []
        self.depth = 0  # inside a table or details: not a block of its own

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if self.depth == 0 and tag in ("h1", "h2", "h3", "h4", "table", "p", "figure", "details"):
            self.blocks.append([tag, ""])
        if tag in ("table", "details"):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("table", "details"):
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.blocks and self.blocks[-1][0].startswith("h"):
            self.blocks[-1][1] += data


def report_of(run: Path, out: Path) -> tuple[str, str]:
    page = build.build_report(run, out)
    return page.read_text(), (out / "report.md").read_text()


@pytest.fixture(scope="module")
def tiny_report(
    stored_perceptron_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """The report of the shared tiny run (one pair, perceptron vs. linear, 2 seeds): its folder,
    report.html and report.md."""
    out = tmp_path_factory.mktemp("tiny_report")
    return (out, *report_of(stored_perceptron_run, out))


def summary_comes_first(page: str, markdown: str) -> str:
    """Checks that the title is followed by the summary's heading and table, in both files;
    returns the summary's Markdown (its table, sentences and notes)."""
    outline = Outline()
    outline.feed(page)
    assert [b[0] for b in outline.blocks[:3]] == ["h1", "h2", "table"], outline.blocks[:4]
    assert outline.blocks[1][1].startswith("Summary")
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings[0].startswith("# neurosim report") and headings[1].startswith("## Summary")
    first_table = markdown.index("\n| bio vs. twin (pair) |")
    assert markdown.index(headings[1]) < first_table < markdown.index(headings[2])
    assert "\n|" not in markdown[:first_table], "no table before the summary's"
    return markdown[first_table : markdown.index(headings[2])]


def test_the_summary_table_comes_first_then_one_confusion_figure_per_pair(tiny_report):
    out, page, markdown = tiny_report
    summary = summary_comes_first(page, markdown)
    assert summary.count("\n| perceptron vs. linear; (perceptron_linear) |") == 1
    assert "- perceptron vs. linear: " in summary
    assert "Seeds: 0, 1 (n = 2 seeds, 1 degree of freedom" in summary and "Not claim-grade" in summary
    assert "docs/statistics.md" in summary
    confusions = sorted(p.name for p in (out / "figures").glob("confusion*.png"))
    assert confusions == ["confusion_perceptron_linear.png"], "one figure for the pair's two members"
    assert markdown.count("](figures/confusion_") == 1


@pytest.mark.slow
def test_two_pairs_sharing_a_twin_give_two_summary_rows_and_two_confusion_figures(tmp_path):
    from neurosim import config
    from neurosim.runner import run_comparison

    run = run_comparison(config.resolve(config.tomllib.loads(TWO_PAIRS)), root=tmp_path)
    page, markdown = report_of(run, tmp_path / "report")
    summary = summary_comes_first(page, markdown)
    assert summary.count("\n| perceptron vs. linear; (perceptron_linear) |") == 1
    assert summary.count("\n| perceptron_averaged vs. linear; (perceptron_averaged_linear) |") == 1
    confusions = sorted(p.name for p in (tmp_path / "report" / "figures").glob("confusion*.png"))
    assert confusions == ["confusion_perceptron_averaged_linear.png", "confusion_perceptron_linear.png"]


def test_the_pair_has_the_paired_table_with_ci_and_holm_columns(tiny_report):
    _, _, markdown = tiny_report
    header = "| " + " | ".join(PAIRED_HEADER).replace("[", "\\[").replace("]", "\\]") + " |"
    assert markdown.count(header) == 1
    (row,) = [line for line in markdown.splitlines() if line.startswith("| perceptron - linear |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert re.fullmatch(r"[+-]\d+\.\d \\\[[+-]\d+\.\d, [+-]\d+\.\d\\\]", cells[1]), cells[1]
    assert cells[4] == "2 (1)", "two seeds: 1 degree of freedom"
    assert cells[2] == cells[5], "a family of one test: Holm's p is the raw p"
    assert re.match(
        r"\d of 2 seeds reject at 0.05 \(Holm over the report's 2 McNemar tests; bio better in \d",
        cells[6],
    )


def test_the_config_is_collapsed_at_the_end(tiny_report):
    _, page, markdown = tiny_report
    outline = Outline()
    outline.feed(page)
    assert outline.blocks[-1][0] == "details"
    details = page[page.index("<details>") :]
    assert details.startswith("<details><summary>Resolved configuration") and "&quot;seeds&quot;" in details
    assert "<details open" not in page
    assert markdown.rindex("## Resolved configuration") > markdown.rindex("## Provenance")


def test_a_study_not_run_gets_not_run_cells_with_its_command(stored_perceptron_run, tmp_path, monkeypatch):
    cell = SummaryCell(
        "noise robustness (AUC)", "0.7", "0.6", "+0.10 [+0.05, +0.15]", "bio", "robust to noise"
    )

    def compute(run_dir, n_stimuli):
        raise AssertionError("the report never computes")

    studies = (
        Analysis("not_stored", "never run", compute, summary=lambda *_: [cell]),
        Analysis("weight_statistics", "stored", compute, summary=lambda *_: [cell]),
    )
    run = shutil.copytree(stored_perceptron_run, tmp_path / "run")
    (run / "analyses").mkdir(exist_ok=True)
    xr.Dataset(attrs={"analysis": "weight_statistics"}).to_netcdf(run / "analyses" / "weight_statistics.nc")
    monkeypatch.setattr(build, "STUDIES", studies)
    _, markdown = report_of(run, tmp_path / "report")
    (row,) = [line for line in markdown.splitlines() if line.startswith("| perceptron vs. linear")]
    command = f"neurosim analyse {run} --analyses not_stored"
    assert row.endswith(f"| bio 0.7; twin 0.6; +0.10 \\[+0.05, +0.15\\]; bio better | {command} |")
    assert "| not run: the command that computes it |" in markdown
    assert "more robust to noise than linear (+0.10 \\[+0.05, +0.15\\])" in markdown


def test_a_table_renders_sentences_under_rows_and_marks_cells():
    table = Table(
        ["a", "b"], [["x\ny", "1"], ["z", "2"]], notes=["first <b>", ""], marks=[["", "bio"], ["", ""]]
    )
    assert table.html() == (
        "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>"
        '<tr><td>x<br>y</td><td class="bio">1</td></tr>'
        '<tr class="note"><td colspan="2">first &lt;b&gt;</td></tr>'
        "<tr><td>z</td><td>2</td></tr></tbody></table>"
    )
    compact = Table(["a"], [["x"]], compact=True).html()
    assert compact.startswith('<div class="wide"><table class="compact">') and compact.endswith("</div>")
    assert table.markdown() == "| a | b |\n|---|---|\n| x; y | 1 |\n| z | 2 |\n\n- x: first &lt;b&gt;"


def test_collapsed_text_is_a_closed_details_in_html_and_a_fenced_block_in_markdown(tmp_path):
    doc = Document()
    doc.collapsed("Config <x>", '{"a": "```"}')
    doc.write(tmp_path, "t")
    assert doc.html == [
        "<details><summary>Config &lt;x&gt;</summary><pre>{&quot;a&quot;: &quot;```&quot;}</pre></details>"
    ]
    assert doc.md == ["## Config &lt;x&gt;\n", '````json\n{"a": "```"}\n````\n']


def screenshot_script():
    """``benchmarks/report_screenshot.py`` as a module (it is a script, not part of the package)."""
    import importlib.util

    from .conftest import REPO

    spec = importlib.util.spec_from_file_location(
        "report_screenshot", REPO / "benchmarks" / "report_screenshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_screenshot_check_skips_without_a_browser_and_fails_a_page_that_opens_otherwise(
    tiny_report, tmp_path, monkeypatch, capsys
):
    script = screenshot_script()
    monkeypatch.setattr(script.shutil, "which", lambda name: None)
    monkeypatch.setattr(script, "_playwright", lambda *args: False)
    out, page, _ = tiny_report
    assert script.main([str(out / "report.html"), "--out", str(tmp_path / "x.png")]) == 0
    printed = capsys.readouterr().out
    assert "comes first after the title" in printed and "skipped: no headless browser" in printed
    other = tmp_path / "other.html"
    other.write_text("<h1>t</h1><h2>Pair x</h2><table></table>")
    assert script.main([str(other), "--out", str(tmp_path / "y.png")]) == 1
    assert script.summary_comes_first(page) is None
