"""Dev check: what a reader sees first when a run's report.html opens (issue #23: the report opens
with its summary table).

Renders the page with a headless browser and saves a PNG of the first viewport, then checks the
page's order: after the title (``h1``) come the summary's heading and its table, before any other
section. Look at the PNG too; this is not a CI test (it needs a browser).

Browsers, in order: a Chromium/Chrome binary on the PATH (``chromium --headless --screenshot``),
else Playwright's Chromium (``pip install playwright``). Without either it says so and exits 0.

Usage:
    python benchmarks/report_screenshot.py RUN_DIR/report/report.html [--out first_view.png]
        [--width 1280] [--height 900]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class Outline(HTMLParser):
    """The page's headings and tables in order: ``[("h1", text), ("table", ""), ...]``."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, str]] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("h1", "h2", "h3"):
            self._open = tag
            self.items.append((tag, ""))
        elif tag == "table":
            self.items.append(("table", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            tag, text = self.items[-1]
            self.items[-1] = (tag, text + data)


def summary_comes_first(page: str) -> str | None:
    """``None`` when the title is followed by the summary's heading and then its table; else what
    comes instead."""
    outline = Outline()
    outline.feed(page)
    first = outline.items[:3]
    kinds = [tag for tag, _ in first]
    if kinds == ["h1", "h2", "table"] and first[1][1].startswith("Summary"):
        return None
    return f"the page opens with {first}"


def _chromium(browser: str, page: Path, out: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: no state from other runs
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",  # as root in a container the sandbox cannot start
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def _playwright(page: Path, out: Path, width: int, height: int) -> bool:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return False
    with sync_playwright() as driver:
        browser = driver.chromium.launch()
        tab = browser.new_page(viewport={"width": width, "height": height})
        tab.goto(page.resolve().as_uri())
        tab.screenshot(path=str(out))
        browser.close()
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a report.html")
    parser.add_argument("--out", type=Path, default=Path("first_view.png"), help="PNG to write")
    parser.add_argument("--width", type=int, default=1280, help="viewport width (CSS pixels)")
    parser.add_argument("--height", type=int, default=900, help="viewport height (CSS pixels)")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"error: {args.report} is not a file", file=sys.stderr)
        return 2
    problem = summary_comes_first(args.report.read_text())
    print("order: the summary table comes first after the title" if problem is None else f"order: {problem}")
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is not None:
        _chromium(browser, args.report, args.out, args.width, args.height)
    elif not _playwright(args.report, args.out, args.width, args.height):
        print("skipped: no headless browser (chromium on the PATH, or pip install playwright)")
        return 0 if problem is None else 1
    print(f"screenshot: {args.out} ({args.width}x{args.height}, first viewport)")
    return 0 if problem is None else 1


if __name__ == "__main__":
    sys.exit(main())
