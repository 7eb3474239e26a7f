"""What ``drimva ris`` prints to the operator of a real RIS: the banner of everything to copy.

Kept apart from the run/demo/soak console (``drimva/console.py``, built
elsewhere) so the two can be joined later. The banner is a list of plain
lines, French like the rest of the console, one setting per line so that a
RIS integrator on another machine can copy them into the RIS's interface
configuration: the MLLP address (the *advertised* address, never a wildcard
bind address), MSH-5 / MSH-6, the viewer URL template, the contextual-call
URL, method and parameters, the CA to trust.
"""

from __future__ import annotations

from dataclasses import dataclass

from drimva.rules.contextual_call import CONSENT_NAMES, MANDATORY

WILDCARDS = ("0.0.0.0", "::", "")
# The expected form of each contextual-call parameter (trust-list-and-identity.md §7), shown to the integrator.
PARAMETER_FORMS = {
    "Patient.identifier.value": "INS du patient (15 caractères, clé valide)",
    "Patient.identifier.system": "OID de l'INS (1.2.250.1.213.1.4.8 / .10 / .11), nu ou urn:oid:",
    "Patient.name.family": "nom de naissance (PID-5 L)",
    "Patient.name.given": "premier prénom (PID-5 L)",
    "Patient.gender": "male | female | other | unknown",
    "Patient.birthDate": "AAAAMMJJ (PID-7)",
    "Address.district": "code INSEE du lieu de naissance (PID-11 BDL)",
    "PatientID": "IPP (PID-3 PI)",
    "PatientIDIssuer": "autorité d'affectation de l'IPP (PID-3.4)",
}


@dataclass(frozen=True)
class RisBanner:
    """The values the banner shows, taken from the profile and the started listeners."""

    mllp_host: str
    mllp_port: int
    receiving: tuple[str, str]  # MSH-5 / MSH-6 the harness's DRIMbox expects ("" = any)
    viewer_url_template: str
    viewer_host: str
    call_url: str
    ca_file: str  # "" when the endpoint is plain HTTP
    consent_names: tuple[str, ...] = CONSENT_NAMES
    count: int = 4
    duration_s: float = 3600.0
    step_wait_s: float = 300.0


def banner_lines(banner: RisBanner) -> list[str]:
    """The banner, one copyable setting per line; a wildcard MLLP address is named as unusable from the RIS."""
    msh5, msh6 = (value or "(quelconque)" for value in banner.receiving)
    lines = [
        f"session RIS : {banner.count} message(s), chaque étape attendue {banner.step_wait_s:g} s au plus "
        f"(session : {banner.duration_s:g} s au plus) ; les messages peuvent venir dans n'importe quel ordre",
        f"  DRIMbox source (MLLP)      : {banner.mllp_host}:{banner.mllp_port}",
    ]
    if banner.mllp_host in WILDCARDS or banner.mllp_host.startswith("127."):
        lines.append("  ATTENTION : adresse non joignable depuis une autre machine ; "
                     "renseignez harness.advertise_host dans le profil")
    lines += [
        f"  MSH-5 attendu              : {msh5}",
        f"  MSH-6 attendu              : {msh6}",
        f"  URL de visualisation du CR : {banner.viewer_url_template.replace('{host}', banner.viewer_host)}",
        f"  appel contextuel           : POST {banner.call_url} (application/x-www-form-urlencoded)",
    ]
    consent = " ou ".join(banner.consent_names)
    lines += [f"    {name} = {PARAMETER_FORMS.get(name, '')}" for name in MANDATORY]
    lines.append(f"    {consent} = indicateur de consentement")
    if banner.ca_file:
        lines.append(f"  AC à faire confiance (HTTPS): {banner.ca_file}")
    return lines


SKIP_HINT = "Entrée ou « s » + Entrée : passer cette étape"
PLAIN_EVERY_S = 30.0  # without a TTY, one countdown line this often (a log file, not a screen)


def duration_text(seconds: float) -> str:
    """``4 min 05 s`` / ``12 s``: the time left, as the operator reads it."""
    whole = max(0, int(seconds + 0.999))
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def countdown_line(step_label: str, remaining_s: float, can_skip: bool) -> str:
    """One countdown line of a pending step (no escape codes: a TTY rewrites it with a carriage return)."""
    hint = f" ({SKIP_HINT})" if can_skip else ""
    return f"[drimva ris] en attente : {step_label} — encore {duration_text(remaining_s)}{hint}"


def countdown_due(tty: bool, elapsed_s: float, last_shown_s: float | None) -> bool:
    """Whether to show the countdown now: every second on a TTY, every :data:`PLAIN_EVERY_S` otherwise."""
    if last_shown_s is None:
        return True
    return elapsed_s - last_shown_s >= (1.0 if tty else PLAIN_EVERY_S)
