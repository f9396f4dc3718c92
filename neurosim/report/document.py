"""The report document: HTML and Markdown written side by side, tables and figures, one style.

Every report (a run's, a sweep's) builds a :class:`Document` and calls :meth:`Document.write`,
which writes ``report.html`` (figures embedded by relative path) and ``report.md`` atomically.

Every text that reaches either file is escaped, attributes included (names, descriptions and
file names come from user-written comparisons and run folders, which may be shared): HTML with
:func:`html.escape` (quotes too), figure paths percent-encoded, and Markdown with
:func:`markdown_text`, so a renderer that shows inline HTML shows the text, never markup.
"""

from __future__ import annotations

import html
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from neurosim.results.storage import write_text

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}th{background:#f3f3f3}"
    "div.wide{overflow-x:auto}"
    "table.compact td,table.compact th{font-size:12px;padding:3px 5px;vertical-align:top}"
    "table.compact td{white-space:nowrap}table.compact td.wrap,tr.note td{white-space:normal}"
    "td.command{min-width:14em;font-family:monospace}"
    "td.bio{background:#e3f1e3}td.twin{background:#fbe9dc}"
    "tr.note td{border-top:none;color:#333;background:#fafafa}"
    "figure{display:inline-block;margin:0.5em}img{max-width:100%}figcaption{font-size:12px;color:#555}"
    "pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}"
    "details{margin:1em 0}summary{cursor:pointer;font-weight:600}"
)


@dataclass
class Table:
    """A table rendered to both HTML and Markdown.

    A cell's text may hold line breaks (HTML: ``<br>``; Markdown, one line: ``"; "``).
    ``notes``: a sentence under each row (HTML: a row spanning the table; Markdown: a list after
    it, each item naming its row by its first cell's first line). ``marks``: a CSS class per cell
    (HTML only: the text must say the same), ``""`` for none: ``bio`` and ``twin`` colour the
    better member's cells, ``wrap`` lets a compact cell's text wrap. ``compact``: a wide table in
    smaller type, its cells unwrapped, scrolling sideways when wider than the page.
    """

    header: list[str]
    rows: list[list[str]]
    notes: list[str] | None = None
    marks: list[list[str]] | None = None
    compact: bool = False

    def html(self) -> str:
        head = "".join(f"<th>{_html_lines(h)}</th>" for h in self.header)
        body = []
        for index, row in enumerate(self.rows):
            marks = self.marks[index] if self.marks else [""] * len(row)
            cells = "".join(_html_cell(c, m) for c, m in zip(row, marks, strict=True))
            body.append(f"<tr>{cells}</tr>")
            if self.notes and self.notes[index]:
                note = html.escape(self.notes[index])
                body.append(f'<tr class="note"><td colspan="{len(self.header)}">{note}</td></tr>')
        table = f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
        if self.compact:  # its lines do not wrap: wider than the page, it scrolls on its own
            return f'<div class="wide"><table class="compact">{table}</table></div>'
        return f"<table>{table}</table>"

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return markdown_text(text).replace("|", "/").replace("\n", "; ")

        lines = ["| " + " | ".join(cell(h) for h in self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            for row, note in zip(self.rows, self.notes, strict=True):
                label = row[0].split("\n")[0]
                lines += [f"- {cell(label)}: {markdown_text(note)}"] if note else []
        return "\n".join(lines)


class Document:
    """Accumulates HTML and Markdown side by side."""

    def __init__(self) -> None:
        self.html: list[str] = []
        self.md: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")
        self.md.append("#" * level + " " + markdown_text(text) + "\n")

    def paragraph(self, text: str) -> None:
        self.html.append(f"<p>{html.escape(text)}</p>")
        self.md.append(markdown_text(text) + "\n")

    def table(self, table: Table) -> None:
        self.html.append(table.html())
        self.md.append(table.markdown() + "\n")

    def figure(self, path: Path, caption: str) -> None:
        relative = "figures/" + urllib.parse.quote(path.name)
        escaped = html.escape(caption)
        self.html.append(
            f'<figure><img src="{html.escape(relative)}" alt="{escaped}">'
            f"<figcaption>{escaped}</figcaption></figure>"
        )
        self.md.append(f"![{markdown_text(caption)}]({relative})\n")

    def code(self, text: str) -> None:
        self.html.append(f"<pre>{html.escape(text)}</pre>")
        fence = "`" * max(3, _longest_backtick_run(text) + 1)  # text cannot close the block
        self.md.append(f"{fence}json\n{text}\n{fence}\n")

    def collapsed(self, title: str, text: str) -> None:
        """A long text (code) out of the way: HTML, a closed ``<details>`` titled ``title``;
        Markdown, which has no such element, a heading and a fenced block (best placed last)."""
        self.html.append(
            f"<details><summary>{html.escape(title)}</summary><pre>{html.escape(text)}</pre></details>"
        )
        self.md.append(f"## {markdown_text(title)}\n")
        fence = "`" * max(3, _longest_backtick_run(text) + 1)
        self.md.append(f"{fence}json\n{text}\n{fence}\n")

    def write(self, out: Path, title: str) -> Path:
        """Write ``out/report.html`` and ``out/report.md``; returns the HTML path."""
        page = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(self.html)}</body></html>"
        )
        html_path = write_text(out / "report.html", page)
        write_text(out / "report.md", "\n".join(self.md))
        return html_path


def markdown_text(text: str) -> str:
    """``text`` safe in Markdown: ``& < >`` become entities (no inline HTML, no autolinks), and
    brackets are backslash-escaped, so that no text becomes a link, a link definition or an image."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("[", "\\[").replace("]", "\\]")


def _html_lines(text: str) -> str:
    """``text`` escaped for HTML, its line breaks as ``<br>``."""
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def _html_cell(text: str, mark: str) -> str:
    """A ``<td>`` of ``text``, of CSS class ``mark`` unless it is empty."""
    kind = f' class="{html.escape(mark)}"' if mark else ""
    return f"<td{kind}>{_html_lines(text)}</td>"


def _longest_backtick_run(text: str) -> int:
    """Length of the longest run of backticks in ``text`` (a code fence must be longer)."""
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    return longest
