"""The VA report in French (``rapport-va.html``): one self-contained file, 1280 px on screen, A4 portrait in print.

Written from ``results.json`` and the evidence folder only, so ``drimva report RUN_DIR`` can
write it again after the run. Every link is relative to the run folder.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import socket
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydicom.datadict import keyword_for_tag

from drimva.installation import FEATURES_DIR, PACKAGE_DIR
from drimva.outcomes import OUTCOME_LABELS_FR, Outcome
from drimva.report.coverage_html import run_counts_section
from drimva.report.paragraphs import interruption_paragraph, preflight_paragraph, supervision_paragraph
from drimva.report.texts import requirement_fr, severity_fr
from drimva.report.values_fr import location_fr, reason_fr, value_fr

REPORT_FILE = "rapport-va.html"
PARIS = ZoneInfo("Europe/Paris")
esc = html.escape

_CSS = """
@page{size:A4 portrait;margin:12mm}
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#1a1a1a;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:.8em 0;table-layout:fixed}
td,th{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#eef}
code,pre{font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}
.passed{background:#dff5df}.failed{background:#fbdcdc}.error{background:#fde9c8}
.skipped,.not_applicable,.deferred,.manual,.not_run{background:#eee}.interrupted{background:#fff1a8}
svg{max-width:100%;height:auto}ol.steps{margin:.3em 0}.ev{white-space:nowrap}
.sign td{height:5em}
@media print{body{margin:0;max-width:none;font-size:9pt}a{color:inherit}h2,h3{break-after:avoid}
tr,svg{break-inside:avoid}}
"""

# Which lane each evidence channel plays in the sequence diagram.
LANES = ("RIS", "DRIMbox", "PACS", "DMP", "DRIMbox pair", "PSC / FranceConnect+", "nœud DICOM", "supervision", "autre")
_CHANNEL_LANE = {
    "ris": "RIS", "hl7": "RIS", "pacs": "PACS", "dicom": "PACS", "dmp": "DMP", "xds": "DMP", "mes": "DMP",
    "peer": "DRIMbox pair", "wado": "DRIMbox pair", "source": "DRIMbox pair", "psc": "PSC / FranceConnect+",
    "fcplus": "PSC / FranceConnect+", "idp": "PSC / FranceConnect+", "oidc": "PSC / FranceConnect+",
    "node": "nœud DICOM", "store": "nœud DICOM", "supervision": "supervision", "health": "supervision",
}


def lane_of(channel: str) -> str:
    lower = channel.lower()
    for key, lane in _CHANNEL_LANE.items():
        if lower.startswith(key):
            return lane
    return "autre"


def from_sut(exchange: dict[str, Any]) -> bool:
    """Whether the DRIMbox sent this exchange (else a counterpart sent it to the DRIMbox)."""
    meta = exchange.get("meta") or {}
    direction = str(meta.get("direction", ""))
    if direction in ("sent", "outbound"):
        return False
    if direction in ("received", "inbound"):
        return True
    label = str(exchange.get("label", ""))
    return not re.search(r"rsp|response|réponse|-> SUT|ACK", label, re.IGNORECASE)


def paris(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S %Z")


_TAG = re.compile(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)")
_UID = r"[0-9]+(?:\.[0-9]+){3,}"
_TRIPLET = re.compile(rf"({_UID})[\s/,|]+({_UID})[\s/,|]+({_UID})")


def readable(value: str) -> str:
    """``value`` escaped, its DICOM tags followed by their keyword, its KOS UID triplets labelled."""
    text = esc(value)
    text = _TRIPLET.sub(r"Study \1 / Series \2 / Instance \3", text)

    def keyword(match: re.Match[str]) -> str:
        name = keyword_for_tag(int(match.group(1) + match.group(2), 16))
        return f"{match.group(0)} {name}" if name else match.group(0)

    return _TAG.sub(keyword, text)


def load_exchanges(run_dir: Path, evidence: str) -> list[dict[str, Any]]:
    path = run_dir / evidence / "exchanges.jsonl"
    if not evidence or not path.is_file():
        return []
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def run_exchanges(run_dir: Path) -> dict[int, list[dict[str, Any]]]:
    """Every exchange of the run by sequence number, from every folder's ``exchanges.jsonl`` (a store of its own,
    such as the background supervision probes', numbers its exchanges from 1 too: a number may name several)."""
    by_seq: dict[int, list[dict[str, Any]]] = {}
    root = run_dir / "evidence"
    for log in sorted(root.glob("*/exchanges.jsonl")) if root.is_dir() else ():
        for row in load_exchanges(run_dir, log.parent.relative_to(run_dir).as_posix()):
            by_seq.setdefault(int(row["seq"]), []).append(row)
    return by_seq


def named_exchange(
    seq: int, scenario_exchanges: list[dict[str, Any]], by_seq: dict[int, list[dict[str, Any]]]
) -> dict[str, Any] | None:
    """Exchange ``seq`` of a finding: the scenario's own, else the run's only one of that number (None when ambiguous)."""
    own = next((e for e in scenario_exchanges if e.get("seq") == seq), None)
    if own is not None:
        return own
    elsewhere = by_seq.get(seq, [])
    return elsewhere[0] if len(elsewhere) == 1 else None


def evidence_href(run_dir: Path, relative: str | None) -> str | None:
    """The link to one evidence file from the report (paths in exchanges.jsonl are relative to evidence/)."""
    if not relative:
        return None
    for candidate in (Path("evidence") / relative, Path(relative)):
        if (run_dir / candidate).is_file():
            return candidate.as_posix()
    return None


def anchor(*parts: str) -> str:
    return "a-" + re.sub(r"[^A-Za-z0-9]+", "-", "-".join(parts)).strip("-")


def gherkin_steps(feature: str, name: str) -> list[str]:
    """The steps of scenario ``name`` as written in ``drimva/features/FEATURE``."""
    path = FEATURES_DIR / feature
    if not path.is_file():
        return []
    steps: list[str] = []
    inside = False
    for line in path.read_text("utf-8").splitlines():
        stripped = line.strip()
        if re.match(r"^(Scénario|Scenario|Plan du scénario|Exemples)\s*:", stripped):
            if inside:
                break
            inside = stripped.split(":", 1)[1].strip() == name
            continue
        if inside and stripped and not stripped.startswith(("@", "#")):
            steps.append(stripped)
    return steps


def dedup(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, ...]] = set()
    kept = []
    for f in findings:
        key = (f["rule"], f["location"], str(f["expected"]), str(f["actual"]), f["severity"])
        if key not in seen:
            seen.add(key)
            kept.append(f)
    return kept


def guessed_exchange(run_dir: Path, finding: dict[str, Any], exchanges: list[dict[str, Any]]) -> dict[str, Any] | None:
    """For a finding that names no exchange (an absence, a step that does not say): the latest exchange of its
    scenario whose decoded text shows its actual value, else the latest; the report marks the link as inferred."""
    actual = str(finding.get("actual", ""))
    if len(actual) >= 3:
        for exchange in reversed(exchanges):
            href = evidence_href(run_dir, exchange.get("decoded_path"))
            if href and actual in (run_dir / href).read_text("utf-8", errors="replace"):
                return exchange
    return exchanges[-1] if exchanges else None


def sequence_svg(run_dir: Path, exchanges: list[dict[str, Any]]) -> str:
    """The scenario's exchanges as a sequence diagram; each arrow links to the raw and decoded evidence."""
    if not exchanges:
        return ""
    used = ["DRIMbox"] + [lane for lane in LANES if lane != "DRIMbox" and any(lane_of(e["channel"]) == lane for e in exchanges)]
    width, step, top = 1000, 34, 40
    x = {lane: 80 + i * (width - 160) / max(1, len(used) - 1) for i, lane in enumerate(used)}
    height = top + step * len(exchanges) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="diagramme de séquence" font-size="12" font-family="sans-serif">']
    for lane in used:
        parts.append(f'<text x="{x[lane]:.0f}" y="18" text-anchor="middle" font-weight="bold">{esc(lane)}</text>'
                     f'<line x1="{x[lane]:.0f}" y1="26" x2="{x[lane]:.0f}" y2="{height}" stroke="#999" stroke-dasharray="4"/>')
    for i, exchange in enumerate(exchanges):
        y = top + step * i + 14
        other = x[lane_of(exchange["channel"])] if lane_of(exchange["channel"]) != "DRIMbox" else x["DRIMbox"] + 40
        start, end = (x["DRIMbox"], other) if from_sut(exchange) else (other, x["DRIMbox"])
        head = 6 if end > start else -6
        raw = evidence_href(run_dir, exchange.get("raw_path"))
        decoded = evidence_href(run_dir, exchange.get("decoded_path"))
        arrow = (f'<line x1="{start:.0f}" y1="{y}" x2="{end:.0f}" y2="{y}" stroke="#1b4f9c" stroke-width="1.5"/>'
                 f'<polygon points="{end:.0f},{y} {end - head:.0f},{y - 4} {end - head:.0f},{y + 4}" fill="#1b4f9c"/>'
                 f'<text x="{(start + end) / 2:.0f}" y="{y - 4}" text-anchor="middle">'
                 f'{exchange["seq"]} · {esc(str(exchange["label"])[:60])}</text>')
        if decoded or raw:
            arrow = f'<a href="{esc(decoded or raw or "")}"><title>{esc(str(exchange["label"]))}</title>{arrow}</a>'
        if raw and decoded:
            arrow += f'<a href="{esc(raw)}"><text x="{max(start, end) + 6:.0f}" y="{y + 4}" fill="#555">brut</text></a>'
        parts.append(arrow)
    parts.append("</svg>")
    return "".join(parts)


def _profile_line(profile: str) -> str:
    embedded = re.search(r"embedded ([A-Za-z0-9_.-]+\.toml)", profile)
    path = PACKAGE_DIR / "profiles" / embedded.group(1) if embedded else Path(profile)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "fichier absent"
    return f"profil <code>{esc(profile)}</code> (sha256 <code>{esc(digest)}</code>)"


INFERRED_MARK = "déduit"
INFERRED_NOTE = (
    "Colonne « preuve » : l'échange que le constat juge, avec sa vue décodée et ses octets bruts (« brut ») ; "
    f"« {INFERRED_MARK} » signale un constat qui ne nomme pas d'échange (par exemple une absence) : l'échange lié est "
    "alors le dernier du scénario dont le texte décodé contient la valeur constatée, à défaut le dernier du scénario."
)


def exchange_links(run_dir: Path, exchange: dict[str, Any], inferred: bool = False) -> str:
    """``échange N`` linking to the decoded view of exchange ``exchange`` and ``brut`` to its raw bytes (those that exist)."""
    decoded = evidence_href(run_dir, exchange.get("decoded_path"))
    raw = evidence_href(run_dir, exchange.get("raw_path"))
    name = f"échange {exchange['seq']}" + (f" ({INFERRED_MARK})" if inferred else "")
    title = f" title='{esc(str(exchange.get('label', '')))}'"
    if not decoded and not raw:
        return esc(name)
    link = f"<a href='{esc(decoded or raw or '')}'{title}>{esc(name)}</a>"
    return f"<span class='ev'>{link}" + (f" · <a href='{esc(raw)}'>brut</a>" if decoded and raw else "") + "</span>"


def _evidence_cell(
    run_dir: Path, finding: dict[str, Any], exchanges: list[dict[str, Any]], by_seq: dict[int, list[dict[str, Any]]]
) -> str:
    named = [e for e in (named_exchange(seq, exchanges, by_seq) for seq in finding.get("exchanges") or ()) if e is not None]
    if named:
        return "<br>".join(exchange_links(run_dir, exchange) for exchange in named)
    guess = guessed_exchange(run_dir, finding, exchanges)
    return exchange_links(run_dir, guess, inferred=True) if guess else ""


def _finding_rows(
    run_dir: Path, findings: list[dict[str, Any]], exchanges: list[dict[str, Any]], by_seq: dict[int, list[dict[str, Any]]]
) -> str:
    rows = []
    for f in findings:
        link = _evidence_cell(run_dir, f, exchanges, by_seq)
        rows.append(
            f"<tr><td>{esc(severity_fr(f['severity']))}</td><td><code>{esc(f['rule'])}</code></td>"
            f"<td>{readable(requirement_fr(f['rule'], str(f['requirement'])))}</td><td><code>{readable(location_fr(str(f['location'])))}</code></td>"
            f"<td>{readable(value_fr(str(f['expected']), f['rule']))}</td><td>{readable(value_fr(str(f['actual']), f['rule']))}</td>"
            f"<td>{link}</td></tr>"
        )
    return "".join(rows)


def _reason(outcome: Outcome, message: str) -> str:
    """Why a scenario ended without a verdict on the SUT (skipped, error, interrupted…), as the console says it: the findings
    say why one failed, the item table why one was not run."""
    if outcome in (Outcome.PASSED, Outcome.FAILED, Outcome.NOT_RUN) or not message.strip():
        return ""
    return f"<p><b>Motif :</b> {readable(reason_fr(message))}</p>"


def _scenario_section(run_dir: Path, item_id: str, scenario: dict[str, Any], by_seq: dict[int, list[dict[str, Any]]]) -> str:
    outcome = Outcome(scenario["outcome"])
    exchanges = load_exchanges(run_dir, scenario.get("evidence", ""))
    findings = dedup([f for f in scenario["findings"] if f["severity"] in ("error", "warning")])
    steps = "".join(f"<li>{esc(s)}</li>" for s in gherkin_steps(scenario["feature"], scenario["name"]))
    table = (
        "<table><colgroup><col style='width:9%'><col style='width:13%'><col style='width:20%'><col style='width:14%'>"
        "<col style='width:16%'><col style='width:16%'><col style='width:12%'></colgroup>"
        "<tr><th>gravité</th><th>règle</th><th>exigence</th><th>emplacement</th><th>attendu</th><th>constaté</th>"
        f"<th>preuve</th></tr>{_finding_rows(run_dir, findings, exchanges, by_seq)}</table>" if findings else ""
    )
    evidence = evidence_href(run_dir, scenario.get("evidence", "") + "/exchanges.jsonl") if scenario.get("evidence") else None
    return (
        f"<section id='{anchor(item_id, scenario['key'])}'><h3 class='{outcome.value}'>{esc(scenario['name'])} — "
        f"{esc(OUTCOME_LABELS_FR[outcome])}</h3><p>{esc(scenario['feature'])} · {scenario['duration_s']:.1f} s"
        + (f" · <a href='{esc(evidence)}'>journal des échanges</a>" if evidence else "") + "</p>"
        + _reason(outcome, str(scenario.get("message", "")))
        + (f"<ol class='steps'>{steps}</ol>" if steps else "")
        + table
        + sequence_svg(run_dir, exchanges)
        + "</section>"
    )


def write_html_report(run_dir: Path, results: dict[str, Any]) -> Path:
    """The VA report in French, for the field engineer to hand to the client."""

    rows, sections = [], []
    failing = False
    by_seq = run_exchanges(run_dir)
    any_findings = any(
        f["severity"] in ("error", "warning") for item in results["items"] for s in item["scenarios"] for f in s["findings"]
    )
    for item in results["items"]:
        outcome = Outcome(item["outcome"])
        failing = failing or outcome in (Outcome.FAILED, Outcome.ERROR)
        links = " ".join(
            f"<a href='#{anchor(item['id'], s['key'])}'>{i + 1}</a>" for i, s in enumerate(item["scenarios"])
        )
        rows.append(
            f"<tr class='{outcome.value}'><td><a href='#{anchor(item['id'])}'>{esc(item['id'])}</a></td>"
            f"<td>{esc(item['label'])}</td><td>{esc(OUTCOME_LABELS_FR[outcome])}</td><td>{links}</td></tr>"
        )
        if item["scenarios"]:
            sections.append(
                f"<h2 id='{anchor(item['id'])}'>{esc(item['id'])} — {esc(item['label'])}</h2>"
                + "".join(_scenario_section(run_dir, item["id"], s, by_seq) for s in item["scenarios"])
            )
    build = results.get("drimva") or {}
    verdict = "NON CONFORME" if failing else "CONFORME"
    if results.get("interrupted"):
        verdict = "INTERROMPU (résultats partiels)"
    generated = datetime.now(PARIS).strftime("%d/%m/%Y %H:%M %Z")
    page = f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Rapport de pré-VA drimva — {esc(results['sut'])}</title><style>{_CSS}</style></head><body>
<h1>Rapport de pré-vérification d'aptitude (VA) {'RIS' if results.get('kind') == 'ris' else 'DRIMbox'}</h1>
<table><colgroup><col style='width:25%'><col></colgroup>
<tr><th>Système testé</th><td><b>{esc(results['sut'])}</b></td></tr>
<tr><th>Profil</th><td>{_profile_line(results['profile'])}</td></tr>
<tr><th>drimva</th><td>version {esc(str(build.get('version', '?')))}, commit <code>{esc(str(build.get('commit', '?')))}</code></td></tr>
<tr><th>Poste</th><td>{esc(socket.gethostname())}</td></tr>
<tr><th>Exécution</th><td><code>{esc(results['run_id'])}</code> du {paris(results['started'])} au {paris(results['finished'])} ({results['duration_s']:.1f} s)
{('· défaut injecté <code>' + esc(results['fault']) + '</code>') if results.get('fault') else ''}
{('· variante conforme <code>' + esc(results['variant']) + '</code>') if results.get('variant') else ''}</td></tr>
<tr><th>Verdict global</th><td class='{'failed' if failing else 'passed'}'><b>{verdict}</b></td></tr></table>
{interruption_paragraph(results)}
<table><colgroup><col style='width:10%'><col><col style='width:18%'><col style='width:18%'></colgroup>
<tr><th>item</th><th>fonction vérifiée</th><th>résultat</th><th>scénarios</th></tr>{''.join(rows)}</table>
{preflight_paragraph(results.get("preflight"))}
{supervision_paragraph(results.get("supervision"))}
{run_counts_section(results)}
{('<p>' + esc(INFERRED_NOTE) + '</p>') if any_findings else ''}
{''.join(sections)}
<footer><h2>Avertissement et signatures</h2>
<p>Ce rapport est une pré-VA produite par drimva : il ne remplace pas la vérification d'aptitude (VA) ni
son attestation (AF-IMG-DB-Va2 §4.4). Généré le {generated}.</p>
<table class='sign'><tr><th>Client (nom, date, signature)</th><th>Fournisseur (nom, date, signature)</th></tr>
<tr><td></td><td></td></tr></table></footer>
</body></html>
"""
    path = run_dir / REPORT_FILE
    path.write_text(page, "utf-8")
    return path
