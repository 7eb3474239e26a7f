"""The VA report of a failing run, in a real browser: 1280 px without overflow, A4 PDF with every value, live links.

The same code makes the README's screenshot: every run writes it beside the run,
``DRIMVA_UPDATE_SCREENSHOT=1`` also writes it to ``docs/rapport-va.png`` (the test
suite leaves a clean checkout clean: a run's commit is not marked ``+dirty``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from pypdf import PdfReader

from drimva.report.values_fr import value_fr
from tests.va_runs import REPO, run_va

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO / "docs" / "rapport-va.png"
UPDATE_SCREENSHOT = os.environ.get("DRIMVA_UPDATE_SCREENSHOT") == "1"
FAULT = "hl7_ack_wrong_msa2"


def _normalise(text: str) -> str:
    """PDF text without line breaks, hyphenation at line ends or spaces, so wrapped values still match."""
    return re.sub(r"\s+", "", text.replace("-\n", ""))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed: no browser to render the report in")
def test_report_renders_prints_and_links(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    run_dir = tmp_path / "run"
    results = run_va(run_dir, "--items", "VA-B1", "-k", "acquitt", fault=FAULT)
    findings = [f for s in results["scenarios"] for f in s["findings"] if f["severity"] in ("error", "warning")]
    assert findings, f"the fault {FAULT} made no finding: the test would prove nothing"
    report = run_dir / "rapport-va.html"
    pdf = tmp_path / "rapport-va.pdf"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(report.as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            hrefs += page.eval_on_selector_all("svg a", "els => els.map(e => e.getAttribute('href'))")
            failed = next(s for s in results["scenarios"] if s["outcome"] == "failed")
            page.locator("h3", has_text=failed["name"]).first.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / SCREENSHOT.name), full_page=False)
            page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()
    if UPDATE_SCREENSHOT:
        shutil.copyfile(tmp_path / SCREENSHOT.name, SCREENSHOT)
    command_pdf = _report_command_pdf(run_dir)
    for printed in (pdf, command_pdf):
        reader = PdfReader(printed)
        text = _normalise("\n".join(p.extract_text() or "" for p in reader.pages))
        for finding in findings:
            for value in (finding["expected"], finding["actual"]):
                french = value_fr(str(value))
                assert _normalise(french) in text, f"{printed.name} ({finding['rule']}): {french!r} is not in the PDF"
        width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
        assert abs(width - 595) < 3 and abs(height - 842) < 3, f"{printed.name}: {width}x{height} pt is not A4 portrait"
    assert any(h and not h.startswith("#") for h in hrefs), "the report links to no evidence"
    for href in hrefs:
        assert href, "a link without a target"
        if href.startswith("#"):
            assert page_has_anchor(report, href[1:]), f"anchor {href} does not exist"
        else:
            target = run_dir / unquote(urlparse(href).path)
            assert target.is_file(), f"link {href} points at no file"


def _report_command_pdf(run_dir: Path) -> Path:
    """``drimva report RUN_DIR --pdf``, as a user types it: Debian's Chromium prints the report beside it."""
    done = subprocess.run([sys.executable, "-m", "drimva", "report", str(run_dir), "--pdf"], capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = run_dir / "rapport-va.pdf"
    assert f"PDF : {printed}" in done.stdout, done.stdout
    return printed


def page_has_anchor(report: Path, name: str) -> bool:
    return f"id='{name}'" in report.read_text("utf-8")
