"""``drimva report RUN_DIR [--pdf]``: write the HTML VA report again from results.json and the evidence."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drimva.report.html import write_html_report
from drimva.report.pdf import PdfUnavailable, print_pdf

RESULTS_FILE = "results.json"


def run_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    results_path = run_dir / RESULTS_FILE
    if not results_path.is_file():
        print(f"drimva report : {results_path} introuvable (RUN_DIR doit être le dossier d'une exécution)", file=sys.stderr)
        return 2
    try:
        results = json.loads(results_path.read_text("utf-8"))
    except json.JSONDecodeError as error:
        print(f"drimva report : {results_path} illisible : {error}", file=sys.stderr)
        return 2
    report = write_html_report(run_dir, results)
    print(f"rapport : {report}")
    if args.pdf:
        try:
            print(f"PDF : {print_pdf(report)}")
        except PdfUnavailable as error:
            print(f"drimva report : {error}", file=sys.stderr)
            return 3
    return 0
