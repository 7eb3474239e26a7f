"""The encodings the WADO-RS source faults of the reference produce, each judged by the rule it must break.

The self-test proves each fault kills E-SERIES through its rule on a live run;
these check, without a server, that the helpers make exactly that defect and
that the faultless encoding passes the same rules (so each test can fail).
"""

from __future__ import annotations

import ssl
import stat
import uuid
from pathlib import Path

from cryptography import x509

from drimva.context import Patient
from drimva.dicom_text import part10_bytes
from drimva.findings import Severity
from drimva.rules.wado import check_wado_response
from drimva.wado import Headers, WadoRequest, WadoResponse
from fixtures.studies import make_study
from simulators.reference.self_signed import self_signed_identity
from simulators.reference.source_server import DICOM_TYPE, bare_data_set, multipart_body, to_implicit_vr
from simulators.reference.wado_client import accept_header

PATIENT = Patient(
    ins="279035121518989", ipp="IPP902", birth_name="PAT-QUATRE", given_name="CAMILLE", birth_date="19790328", sex="F"
)
EXPLICIT = "1.2.840.10008.1.2.1"
REQUEST = WadoRequest("GET", "/drimbox/wado-rs/studies/1.2.3/series/1.2.3.4", "HTTP/1.1", Headers((("Accept", accept_header()),)))


def _parts() -> list[bytes]:
    return [part10_bytes(ds) for ds in make_study(PATIENT, "ACN902", series=(("CT", 2),))]


def _errors(parts: list[bytes], syntax: str = EXPLICIT, part_type: str = DICOM_TYPE, *, bare: bool = False) -> set[str]:
    boundary = uuid.uuid4().hex
    content_type = f'multipart/related; type="{DICOM_TYPE}"; transfer-syntax={syntax}; boundary={boundary}'
    body = multipart_body(parts, boundary, syntax, part_type, bare=bare)
    response = WadoResponse("HTTP/1.1", 200, "OK", Headers((("Content-Type", content_type),)), body)
    return {f.rule for f in check_wado_response(response, REQUEST) if f.severity is Severity.ERROR}


def test_the_faultless_encoding_passes() -> None:
    assert _errors(_parts()) == set()


def test_bare_boundary_lines_make_the_body_unreadable() -> None:
    assert _errors(_parts(), bare=True) == {"WADO-PARTS"}


def test_octet_stream_parts_are_not_application_dicom() -> None:
    assert _errors(_parts(), part_type="application/octet-stream") == {"WADO-PART-TYPE"}


def test_bare_data_sets_are_not_part10_instances() -> None:
    assert _errors([bare_data_set(part) for part in _parts()]) == {"WADO-PART-DICOM"}


def test_implicit_vr_is_a_syntax_the_accept_does_not_list() -> None:
    implicit = "1.2.840.10008.1.2"
    assert _errors([to_implicit_vr(part) for part in _parts()], implicit) == {"WADO-RESPONSE-TS"}


def test_declaring_the_preferred_syntax_without_transcoding() -> None:
    assert _errors(_parts(), "1.2.840.10008.1.2.4.70") == {"WADO-PART-TS"}


def test_self_signed_identity_is_its_own_issuer(tmp_path: Path) -> None:
    cert_path, key_path = self_signed_identity(tmp_path / "factory", "127.0.0.1")
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert certificate.issuer == certificate.subject
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert_path), str(key_path))  # a matching pair
