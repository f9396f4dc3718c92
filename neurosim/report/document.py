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
    "figure{display:inline-block;margin:0.5em}img{max-width:100%}figcaption{font-size:12px;color:#555}"
    "pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}"
)


@dataclass
class Table:
    """A table rendered to both HTML and Markdown."""

    header: list[str]
    rows: list[list[str]]

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return markdown_text(text).replace("|", "/").replace("\n", " ")

        lines = ["| " + " | ".join(cell(h) for h in self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
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


def _longest_backtick_run(text: str) -> int:
    """Length of the longest run of backticks in ``text`` (a code fence must be longer)."""
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    return longest
