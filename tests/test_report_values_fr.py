"""The expected / actual values in the VA report are French; data values pass through unchanged.

The last test walks the rules: a new English expected text in ``drimva/rules/*.py`` fails it
until ``drimva/report/values_fr.py`` gives it its French.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from drimva.report.values_fr import location_fr, reason_fr, value_fr

RULES_DIR = Path(__file__).resolve().parent.parent / "drimva" / "rules"

SAMPLES = [
    ("a readable DICOM Part-10 file", "un fichier DICOM Part-10 lisible"),
    ("an HTTP answer", "une réponse HTTP"),
    ("one item (113030, DCM, Manifest)", "un item (113030, DCM, Manifest)"),
    ("(not referenced)", "(non référencé)"),
    ("(missing)", "(manquant)"),
    ("an ERR segment", "un segment ERR"),
    ("no entry for this patient", "aucune entrée pour ce patient"),
    ("an http(s) URL ending in /wado-rs", "une URL http(s) se terminant par /wado-rs"),
    ("one of ['1', '2']", "l'une de ['1', '2']"),
    ("one of ['1'] (or 900-905)", "l'une de ['1'] (ou 900-905)"),
    ("one of ['a'] (or set id ['b'])", "l'une de ['a'] (ou set id ['b'])"),
    ("unreadable: InvalidDicomError: bad", "illisible : InvalidDicomError: bad"),
    ("no ACK: connection refused", "aucun ACK : connexion refusée"),
    ("no ACK from 127.0.0.1:2575 within 5 s", "aucun ACK de 127.0.0.1:2575 dans les 5 s"),
    ("no HTTP answer from http://127.0.0.1:80/x: ConnectError: refused",
     "aucune réponse HTTP de http://127.0.0.1:80/x : ConnectError: refused"),
    ("verification failed: bad signature", "échec de la vérification : bad signature"),
    ("instance 1.2.3.4.5 retrieved", "instance 1.2.3.4.5 récupérée"),
    ("HTTP 200: served in clear", "HTTP 200 : servi en clair"),
    ("3 items", "3 items"),
    ("200 or 206", "200 ou 206"),
    ("<KOS entry> -> urn:uuid:1", "<entrée KOS> -> urn:uuid:1"),
    ("study level", "niveau study"),
    ("pixel data SHA-256 ab12", "données de pixels SHA-256 ab12"),
    ("an approved KOS entry for patient 123 within 30 s", "une entrée KOS approuvée pour le patient 123 dans les 30 s"),
    # what the simulators and the harness's clients saw, as a run with a fault shows it
    ("JSON status 'DOWN', expected 'UP' (0.06 s)", "statut JSON 'DOWN', 'UP' attendu (0.06 s)"),
    ("HTTP 503, expected 200 (0.01 s)", "HTTP 503, 200 attendu (0.01 s)"),
    ("answered after 2.50 s (limit 2 s) (2.50 s)", "réponse après 2.50 s (limite 2 s) (2.50 s)"),
    ("no answer within 2 s (2.00 s)", "aucune réponse dans les 2 s (2.00 s)"),
    ("no ACK: connection closed by 127.0.0.1:2575 without an ACK", "aucun ACK : connexion fermée par 127.0.0.1:2575 sans ACK"),
    ("no ACK: connection closed by 127.0.0.1:2575 without an ACK (12 byte(s) of an unfinished frame)",
     "aucun ACK : connexion fermée par 127.0.0.1:2575 sans ACK (12 octet(s) d'une trame inachevée)"),
    ("no ACK: cannot connect to 127.0.0.1:2575: Connection refused", "aucun ACK : connexion impossible à 127.0.0.1:2575 : connexion refusée"),
    ("no ACK: connection to 127.0.0.1:2575 failed: timed out", "aucun ACK : échec de la connexion à 127.0.0.1:2575 : délai dépassé"),
    ("a redirect (or a link) to the login page of https://idp/x", "une redirection (ou un lien) vers la page de connexion de https://idp/x"),
    ("HTTP 200 at https://viewer/x?a=1", "HTTP 200 à https://viewer/x?a=1"),
    ("no study without a session (a login page or a provider choice)",
     "aucun examen sans session (une page de connexion ou un choix de fournisseur)"),
    ("no request reached the DMP", "aucune requête n'a atteint le DMP"),
    ("status Deleted or Deprecated", "statut Deleted ou Deprecated"),
    ("still Approved after 3.0 s; no request reached the DMP", "toujours Approved après 3.0 s ; aucune requête n'a atteint le DMP"),
    ("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b -> Fault (VIHF assertion not valid (expired): "
     "saml2:Assertion/@IssueInstant = 2026-12-02T16:41:50Z, expected within 1 h before the receipt 2026-12-02T18:41:50Z (no Conditions))",
     "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b -> Fault (motif : assertion VIHF non valide (expirée) : "
     "saml2:Assertion/@IssueInstant = 2026-12-02T16:41:50Z, attendu : dans l'heure (1 h) précédant la réception "
     "2026-12-02T18:41:50Z (sans Conditions))"),
    ("urn:a -> Success | urn:b -> Failure (XDSRegistryError: bad)", "urn:a -> Success | urn:b -> Failure (motif : erreur XDSRegistryError : bad)"),
    ("ConnectError: [Errno 111] Connection refused", "erreur ConnectError : [Errno 111] connexion refusée"),
    ("no dciodvfy warning", "aucun avertissement de dciodvfy"),
]


@pytest.mark.parametrize(("english", "french"), SAMPLES)
def test_phrases_are_translated(english: str, french: str) -> None:
    assert value_fr(english) == french


@pytest.mark.parametrize("data", [
    "1.2.250.1.213.1.1.1", "http://127.0.0.1:8080/wado-rs/studies/1.2.3", "AA",
    "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved", "(0040,A375)[0]>(0008,1115)[2]", "PID-3",
    "1.2.3.4 / 1.2.3.5 / 1.2.3.6", "ORU^R01^ORU_R01", "3/3", "",
])
def test_data_is_unchanged(data: str) -> None:
    assert value_fr(data) == data


def test_a_tools_own_message_gets_a_french_frame() -> None:
    assert value_fr("Attribute is not present in standard DICOM IOD", "DCIODVFY") == (
        "message de dciodvfy : « Attribute is not present in standard DICOM IOD »")
    assert value_fr("Attribute is not present in standard DICOM IOD") == "Attribute is not present in standard DICOM IOD"
    assert value_fr("(absent)", "DCIODVFY") == "(absent)"


@pytest.mark.parametrize(("english", "french"), [
    ("HTTP status", "statut HTTP"),
    ("DMP registry (ITI-41)", "registre du DMP (ITI-41)"),
    ("GET https://sut/s (probe 2)", "GET https://sut/s (sonde 2)"),
    ("https://sut/s (background, every 1 s, evidence/supervision--campagne) at 18:41:22",
     "https://sut/s (en arrière-plan, toutes les 1 s, evidence/supervision--campagne) à 18:41:22"),
    ("GET https://sut/wado-rs/studies/1 without kos_header, token", "GET https://sut/wado-rs/studies/1 sans en-tête KOS-SOPInstanceUID, jeton"),
    ("GET https://sut/wado-rs/studies/1 without a valid request element", "GET https://sut/wado-rs/studies/1 sans élément de requête valide"),
    ("TLS server certificate of 127.0.0.1:443", "certificat serveur TLS de 127.0.0.1:443"),
    ("registry entry urn:uuid:1", "entrée du registre urn:uuid:1"),
    ("WADO-RS to https://peer/wado-rs", "WADO-RS vers https://peer/wado-rs"),
    ("(0040,A375)[0]>(0008,1115)[2]", "(0040,A375)[0]>(0008,1115)[2]"),
    ("MSA-1", "MSA-1"),
])
def test_locations_that_are_words_are_translated(english: str, french: str) -> None:
    assert location_fr(english) == french


def test_the_reason_of_a_scenario_without_verdict_is_french() -> None:
    assert reason_fr("bloqué par : appel contextuel sans réponse (CALL-REACHABLE) — ConnectError: [Errno 111] Connection refused") == (
        "bloqué par : appel contextuel sans réponse (CALL-REACHABLE) — erreur ConnectError : [Errno 111] connexion refusée")
    assert reason_fr("TimeoutError: the PACS did not answer") == "erreur TimeoutError : the PACS did not answer"
    assert reason_fr("non sélectionné (--items VA-B1)") == "non sélectionné (--items VA-B1)"


@pytest.mark.parametrize(("english", "french"), [
    ("connection refused", "connexion refusée"),
    ("timed out after 5 s", "délai dépassé après 5 s"),
    ("db.example.fr does not resolve (Name or service not known)", "db.example.fr ne se résout pas (nom ou service inconnu)"),
    ("resolving db.example.fr timed out after 5 s", "résolution de db.example.fr : délai dépassé après 5 s"),
    ("TLS: certificate verify failed: self-signed certificate", "TLS : certificat refusé à la vérification : self-signed certificate"),
    ("TLS: handshake failed: connection refused", "TLS : échec de la négociation : connexion refusée"),
    ("TLS: no handshake within 5 s", "TLS : aucune négociation dans les 5 s"),
    ("no HTTP answer: connection reset by the server", "aucune réponse HTTP : connexion réinitialisée par le serveur"),
    ("connection closed without an HTTP answer", "connexion fermée sans réponse HTTP"),
    ("the answer is not HTTP (BadStatusLine: 'x')", "la réponse n'est pas du HTTP (BadStatusLine: 'x')"),
    ("no whole HTTP answer head within 5.5 s (bytes came too slowly)",
     "en-tête de réponse HTTP incomplet après 5.5 s (octets reçus trop lentement)"),
    ("no TLS certificate presented", "aucun certificat TLS présenté"),
])
def test_the_causes_of_an_unreachable_address_are_french(english: str, french: str) -> None:
    assert value_fr(english) == french


def test_the_preflight_reason_is_french_for_every_address() -> None:
    """What a scenario the pre-flight blocks says (drimva.preflight), and the VA-A server-certificate step's error."""
    reason = "pré-vol : sut.hl7: db.example.fr:2575 — db.example.fr does not resolve; sut.wado.base_url: https://db:8443/ — connection refused"
    assert reason_fr(reason) == (
        "pré-vol : sut.hl7: db.example.fr:2575 — db.example.fr ne se résout pas; sut.wado.base_url: https://db:8443/ — connexion refusée")
    assert reason_fr("sut.wado.base_url: 127.0.0.1:443 — timed out after 20 s") == "sut.wado.base_url: 127.0.0.1:443 — délai dépassé après 20 s"


ENGLISH_WORDS = {"a", "an", "the", "one", "no", "of", "with", "not", "every", "within", "at least"}


def _english_words(text: str) -> int:
    words = text.lower().split()
    count = sum(1 for w in words if w in ENGLISH_WORDS)
    return count + sum(1 for a, b in zip(words, words[1:]) if (a, b) == ("at", "least"))


def _expected_literals(path: Path) -> list[tuple[int, str]]:
    """The string literals passed as ``expected`` to ``.add`` / ``.check_equal`` (4th positional or keyword)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add", "check_equal")):
            continue
        argument = node.args[3] if len(node.args) > 3 else next(
            (k.value for k in node.keywords if k.arg == "expected"), None)
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found.append((node.lineno, argument.value))
    return found


def test_english_expected_texts_of_the_rules_have_their_french() -> None:
    literals = [(f"{path.name}:{line}", text) for path in sorted(RULES_DIR.glob("*.py"))
                for line, text in _expected_literals(path)]
    english = [(where, text) for where, text in literals if _english_words(text) >= 2]
    assert len(english) >= 20, f"only {len(english)} English expected texts found: the walk is broken"
    untranslated = [f"{where}: {text!r}" for where, text in english if value_fr(text) == text]
    assert not untranslated, "expected texts without French in drimva/report/values_fr.py:\n" + "\n".join(untranslated)


def test_the_html_report_shows_the_french_and_keeps_the_data(tmp_path: Path) -> None:
    from drimva.report.html import write_html_report

    finding = {"rule": "KOS-RETRIEVE-URL", "requirement": "r", "location": "(0040,E010)", "severity": "error",
               "expected": "an http(s) URL ending in /wado-rs", "actual": "unreadable: ValueError: 1.2.3.4.5"}
    probe = {"rule": "SUPERVISION-PROBE", "requirement": "r", "location": "GET https://sut/s (probe 1)", "severity": "error",
             "expected": "HTTP 200", "actual": "HTTP 503, expected 200 (0.01 s)"}
    scenario = {"key": "s1", "name": "scénario", "feature": "absent.feature", "outcome": "failed", "evidence": "",
                "duration_s": 1.0, "findings": [finding, probe]}
    blocked = {"key": "s2", "name": "bloqué", "feature": "absent.feature", "outcome": "skipped", "evidence": "", "duration_s": 0.1,
               "findings": [], "message": "bloqué par : pas d'ACK du CR (ACK-PRESENT) — OSError: [Errno 111] Connection refused"}
    results = {"items": [{"id": "VA-X", "label": "x", "outcome": "failed", "scenarios": [scenario, blocked]}],
               "sut": "sut", "profile": "p.toml", "run_id": "r", "started": "2026-01-01T00:00:00+00:00",
               "finished": "2026-01-01T00:00:01+00:00", "duration_s": 1.0}
    page = write_html_report(tmp_path, results).read_text("utf-8")
    assert "une URL http(s) se terminant par /wado-rs" in page
    assert "illisible : ValueError: 1.2.3.4.5" in page
    assert "an http(s) URL ending in" not in page and "unreadable:" not in page
    assert "GET https://sut/s (sonde 1)" in page and "HTTP 503, 200 attendu (0.01 s)" in page
    assert "Motif :</b> bloqué par : pas d&#x27;ACK du CR (ACK-PRESENT) — erreur OSError : [Errno 111] connexion refusée" in page
    assert finding["expected"] == "an http(s) URL ending in /wado-rs", "the report changed the results it was given"
