"""drimva.dicomweb: multipart/related DICOM bodies and transfer-syntax negotiation."""

from __future__ import annotations


import pytest

from drimva.dicom_text import EXPLICIT_VR_LE, part10_bytes, read_part10
from drimva.dicomweb import (
    CISIS_LOSSLESS_ACCEPT,
    CISIS_LOSSY_ACCEPT,
    AcceptError,
    build_multipart,
    choose_transfer_syntax,
    parse_multipart_dicom,
)
from drimva.mime import MimeError, parse_content_type
from drimva.wado import parse_accept, parse_request
from drimva.context import Patient
from fixtures.studies import make_study

from paths import SHARED
SAMPLES = SHARED / "ans-samples" / "test-a-blanc"
JPEG_BASELINE, JPEG_EXTENDED, JPEG_LOSSLESS, JPEG_LS = (
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80")
PATIENT = Patient(ins="279035121518989", birth_name="PAT", given_name="UN", birth_date="19790328", sex="F")


def _sample_accept(relative: str) -> list[str]:
    path = SAMPLES / relative
    if not path.exists():
        pytest.skip(f"ANS sample absent: {path}")
    return parse_request(path.read_bytes()).headers.get_all("Accept")


def test_build_then_parse_gives_back_the_instances_byte_for_byte() -> None:
    instances = [part10_bytes(ds) for ds in make_study(PATIENT, "ACN1", series=(("CT", 2), ("MR", 1)))]
    instances.append(b"\r\n--not-the-boundary\r\n\r\n")  # CRLF and dashes inside content survive
    body, content_type = build_multipart(instances, EXPLICIT_VR_LE, boundary="b0undary")
    mime_type, params = parse_content_type(content_type)
    assert (mime_type, params["type"], params["transfer-syntax"], params["boundary"]) == (
        "multipart/related", "application/dicom", EXPLICIT_VR_LE, "b0undary")
    assert body.count(b"Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\n") == 4
    assert body.endswith(b"--b0undary--\r\n")
    assert parse_multipart_dicom(body, content_type) == instances
    assert read_part10(parse_multipart_dicom(body, content_type)[0]).SOPInstanceUID == read_part10(instances[0]).SOPInstanceUID


def test_build_refuses_a_boundary_found_in_an_instance() -> None:
    with pytest.raises(MimeError):
        build_multipart([b"xx--abc yy"], EXPLICIT_VR_LE, boundary="abc")


def test_parse_refuses_what_is_not_multipart_related_dicom() -> None:
    body, content_type = build_multipart([b"DICM"], EXPLICIT_VR_LE, boundary="b")
    with pytest.raises(MimeError, match="not multipart/related"):
        parse_multipart_dicom(body, "multipart/mixed; boundary=b")
    with pytest.raises(MimeError, match="application/dicom"):
        parse_multipart_dicom(body, 'multipart/related; type="application/xop+xml"; boundary=b')
    wrong_part = body.replace(b"Content-Type: application/dicom", b"Content-Type: text/plain")
    with pytest.raises(MimeError, match="part 1"):
        parse_multipart_dicom(wrong_part, content_type)


def test_cisis_lossless_profile_is_the_ans_sample_one() -> None:
    sample = parse_accept(_sample_accept("Simulateur-client-wadoRS/OK_Requete_CISIS_TSLossless.txt"))
    ours = parse_accept([CISIS_LOSSLESS_ACCEPT])
    assert [(e.transfer_syntax, e.q, e.params["boundary"]) for e in ours.entries] == [
        (e.transfer_syntax, e.q, e.params["boundary"]) for e in sample.entries]
    assert len(ours.entries) == 10 and sample.empty_entries == 1 and ours.empty_entries == 0


def test_highest_q_among_available_wins() -> None:
    assert choose_transfer_syntax([CISIS_LOSSLESS_ACCEPT], [EXPLICIT_VR_LE]) == EXPLICIT_VR_LE
    assert choose_transfer_syntax([CISIS_LOSSLESS_ACCEPT], [EXPLICIT_VR_LE, JPEG_LS]) == JPEG_LS
    assert choose_transfer_syntax([CISIS_LOSSY_ACCEPT], [JPEG_LS, JPEG_EXTENDED]) == JPEG_EXTENDED
    assert choose_transfer_syntax([CISIS_LOSSLESS_ACCEPT], ["1.2.840.10008.1.2"]) is None  # Implicit VR not offered


def test_ans_sample_profiles() -> None:
    switched = _sample_accept("Validateur-de-requete-reponses/Request-validation-series/OK_SwitchHeaders.txt")
    assert len(switched) == 10  # one Accept header per entry
    assert choose_transfer_syntax(switched, [JPEG_EXTENDED, JPEG_BASELINE]) == JPEG_BASELINE  # equal q: first written
    assert choose_transfer_syntax(switched, [EXPLICIT_VR_LE]) == EXPLICIT_VR_LE
    minmax = _sample_accept("Simulateur-client-wadoRS/OK_QParameterMinMax.txt")  # trailing comma
    assert choose_transfer_syntax(minmax, [JPEG_LS, JPEG_LOSSLESS, EXPLICIT_VR_LE]) == JPEG_LOSSLESS
    assert choose_transfer_syntax(minmax, [JPEG_BASELINE, EXPLICIT_VR_LE]) == EXPLICIT_VR_LE  # 0.5 > 0.1


def test_star_default_zero_q_and_foreign_media_types() -> None:
    star = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    assert choose_transfer_syntax([star], [EXPLICIT_VR_LE]) == EXPLICIT_VR_LE
    assert choose_transfer_syntax(['multipart/related; type="application/dicom"'], [EXPLICIT_VR_LE]) == EXPLICIT_VR_LE
    zero = f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT_VR_LE}; q=0'
    assert choose_transfer_syntax([zero], [EXPLICIT_VR_LE]) is None
    assert choose_transfer_syntax(["text/html", "application/json"], [EXPLICIT_VR_LE]) is None
    octets = f'multipart/related; type="application/octet-stream"; transfer-syntax={EXPLICIT_VR_LE}'
    assert choose_transfer_syntax([octets], [EXPLICIT_VR_LE]) is None


@pytest.mark.parametrize(
    "values",
    [[], [""], [" , "], [f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT_VR_LE}; q=high'],
     [f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT_VR_LE}; q=1.5'],
     ['multipart/related; type="application/dicom"; transfer-syntax=; q=0.5']],
)
def test_unreadable_accept_raises(values: list[str]) -> None:
    with pytest.raises(AcceptError):
        choose_transfer_syntax(values, [EXPLICIT_VR_LE])
