"""Reports: HTML and Markdown rebuilt from stored results, one function per figure."""

from neurosim.report.build import build_report

__all__ = ["build_report"]
