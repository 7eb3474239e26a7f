"""Print the HTML report to A4 PDF with Debian's Chromium, headless."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
PRINT_TIMEOUT_S = 120


class PdfUnavailable(RuntimeError):
    """Chromium is not installed: the report stays HTML only."""


def chromium() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise PdfUnavailable(
        "chromium introuvable : installez-le (apt-get install chromium) pour imprimer le rapport en PDF ; "
        "le rapport HTML reste utilisable"
    )


def print_pdf(html_path: Path, pdf_path: Path | None = None) -> Path:
    """``html_path`` printed to ``pdf_path`` (default: beside it, ``.pdf``); the page size comes from its ``@page``."""
    target = pdf_path or html_path.with_suffix(".pdf")
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
        f"--print-to-pdf={target}", html_path.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False)
    if done.returncode != 0 or not target.exists():
        raise PdfUnavailable(f"chromium n'a pas imprimé le PDF (code {done.returncode}) : {done.stderr[-400:]}")
    return target
