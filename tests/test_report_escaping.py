"""Reports never turn text into markup: HTML attributes and text escaped, Markdown without HTML.

Names are restricted when a comparison is read (tests/test_cli_bad_input.py), but a run folder
may come from anywhere: here its stored names are tampered with after the run, and the written
report is parsed to check that the markup stays text.
"""

from __future__ import annotations

import shutil
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

from neurosim.report import build_report
from neurosim.report.document import Document, markdown_text
from neurosim.results.storage import open_dataset, save_dataset

from .conftest import run_cli

EVIL = 'lin" onerror="alert(4)'
SCRIPT = "<script>alert(5)</script>"


class Elements(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def parsed(page: str) -> list[tuple[str, dict]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


def test_figure_paths_and_captions_are_escaped_in_attributes(tmp_path):
    doc = Document()
    doc.figure(tmp_path / f"weights_{EVIL}.png", f"{EVIL}: weights {SCRIPT}")
    doc.heading(SCRIPT)
    html_path = doc.write(tmp_path, f"title {SCRIPT}")
    tags = parsed(html_path.read_text())
    images = [attrs for tag, attrs in tags if tag == "img"]
    assert len(images) == 1 and set(images[0]) == {"src", "alt"}
    assert images[0]["src"] == "figures/weights_lin%22%20onerror%3D%22alert%284%29.png"
    assert "script" not in [tag for tag, _ in tags]
    markdown = (tmp_path / "report.md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_markdown_text_has_no_html_and_no_links():
    assert markdown_text("<b>x</b> & [a](javascript:1)") == "&lt;b&gt;x&lt;/b&gt; &amp; \\[a\\](javascript:1)"
    assert "[" not in markdown_text("[x]: javascript:alert(1)").replace("\\[", "")


def test_a_tampered_run_folder_gives_a_report_without_markup(stored_perceptron_run, tmp_path):
    """The comparison's name and description are changed to markup in results.nc; the rebuilt
    report shows them as text."""
    run = tmp_path / "run"
    shutil.copytree(stored_perceptron_run, run)
    results = open_dataset(run / "results.nc")
    results.attrs["comparison"] = f'x" onerror="alert(3){SCRIPT}'
    results.attrs["description"] = f'<img src=x onerror="alert(6)"> {SCRIPT} [x]: javascript:alert(7)'
    save_dataset(run / "results.nc", results)
    page_path = build_report(run)
    page = page_path.read_text()
    tags = parsed(page)
    assert all("onerror" not in attrs for _, attrs in tags), [t for t in tags if "onerror" in t[1]]
    assert [tag for tag, _ in tags].count("img") == len(list((page_path.parent / "figures").glob("*.png")))
    assert "script" not in [tag for tag, _ in tags]
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=&quot;alert(6)&quot;&gt;" in page
    for tag, attrs in tags:
        if tag == "img":
            assert (page_path.parent / urllib.parse.unquote(attrs["src"])).is_file()
    markdown = Path(page_path.parent / "report.md").read_text()
    assert "<script>" not in markdown and "<img" not in markdown and "[x]:" not in markdown


def test_a_member_name_that_is_not_a_name_is_refused(stored_perceptron_run, tmp_path):
    """Member names become figure file names: a results.nc naming a member with markup or a path
    was not written by neurosim, and its report is refused in one line."""
    run = tmp_path / "run"
    shutil.copytree(stored_perceptron_run, run)
    results = open_dataset(run / "results.nc")
    results = results.assign_coords(model=[EVIL if m == "linear" else str(m) for m in results.model.values])
    save_dataset(run / "results.nc", results)
    process = run_cli("report", str(run), check=False)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert f"names a member {EVIL!r}, which is not a valid name" in process.stderr
    assert not list(run.rglob("*onerror*")), "no file was written under the name"
