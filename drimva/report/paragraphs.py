"""The paragraphs of the report's header that depend on how the run went: interrupted, pre-flight, supervision."""

from __future__ import annotations

import html
from typing import Any

from drimva.outcomes import OUTCOME_LABELS_FR, Outcome
from drimva.report.values_fr import reason_fr


def supervision_paragraph(campaign: dict[str, Any] | None) -> str:
    """What the background supervision probes saw during the run, in French (empty when there were none)."""
    if not campaign or not campaign.get("probes"):
        return ""
    esc = html.escape
    return (
        f"<p>Supervision pendant toute l'exécution (VA-F) : <b>{campaign['ok']}/{campaign['probes']}</b> sondes conformes "
        f"({100 * (campaign.get('availability') or 0):.0f} %), une toutes les {campaign.get('interval_s')} s sur "
        f"<code>{esc(str(campaign.get('url')))}</code> · preuves : <code>{esc(str(campaign.get('evidence')))}</code></p>"
    )


def preflight_paragraph(preflight: dict[str, Any] | None) -> str:
    """The addresses of the SUT the pre-flight could not reach, in French (empty when all answered)."""
    if not preflight or not preflight.get("failed"):
        return ""
    items = "".join(f"<li><code>{html.escape(reason_fr(str(failure)))}</code></li>" for failure in preflight["failed"])
    return (
        "<p>Vérification préalable (pré-vol) : ces adresses du système testé ne répondent pas ; les items qui en "
        f"dépendent sont en « {OUTCOME_LABELS_FR[Outcome.ERROR]} », non jugés · preuves : "
        f"<code>{html.escape(str(preflight.get('file')))}</code></p><ul>{items}</ul>"
    )


def interruption_paragraph(results: dict[str, Any]) -> str:
    """The warning that the run was stopped before its end, in French (empty when it was not)."""
    if not results.get("interrupted"):
        return ""
    counts = results.get("scenario_counts", {})
    return (
        f"<p class='interrupted'><b>Exécution interrompue</b> par {html.escape(str(results.get('signal')))} : "
        f"{counts.get(Outcome.INTERRUPTED.value, 0)} scénario(s) interrompu(s), "
        f"{counts.get(Outcome.NOT_RUN.value, 0)} non lancé(s). Les résultats sont partiels ; "
        "les preuves recueillies jusqu'à l'interruption sont conservées.</p>"
    )
