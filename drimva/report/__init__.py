"""The French HTML VA report (``rapport-va.html``) a client signs beside, and its PDF print."""

from drimva.report.html import write_html_report
from drimva.report.pdf import print_pdf

__all__ = ["write_html_report", "print_pdf"]
