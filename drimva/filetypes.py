"""What a captured file is, from its content (the extension is only a hint). Pure.

Used by ``drimva validate`` to pick the rules: HL7 v2 messages (framed by
MLLP or not), CDA CR, ITI-41 submissions (plain SOAP, HTTP POST or MTOM
capture) and their responses, the DRIM-M trust list, DICOM Part-10 files,
dcm2xml dumps, and HTTP captures of WADO-RS requests / responses.
"""

from __future__ import annotations

import re
from enum import Enum

from drimva.wado import WadoParseError, is_request, is_response, parse_request


class FileType(str, Enum):
    HL7 = "hl7"
    CDA = "cda"
    XDS_SUBMISSION = "xds-iti41"
    XDS_RESPONSE = "xds-response"
    TRUST_LIST = "trust-list"
    DICOM = "dicom"
    DICOM_XML = "dicom-xml"  # a DCMTK dcm2xml dump (not judged: validate the .dcm)
    WADO_REQUEST = "wado-request"
    WADO_RESPONSE = "wado-response"
    HTTP_REQUEST = "http-request"  # an HTTP request that is not a WADO-RS retrieve


DESCRIPTIONS = {
    FileType.HL7: "HL7 v2 message(s)",
    FileType.CDA: "CDA CR d'imagerie",
    FileType.XDS_SUBMISSION: "ITI-41 Provide and Register submission",
    FileType.XDS_RESPONSE: "ITI-41 registry response",
    FileType.TRUST_LIST: "DRIM-M trust list (liste blanche)",
    FileType.DICOM: "DICOM Part-10 file (KOS)",
    FileType.DICOM_XML: "dcm2xml dump of a DICOM file",
    FileType.WADO_REQUEST: "WADO-RS request capture",
    FileType.WADO_RESPONSE: "WADO-RS response capture",
    FileType.HTTP_REQUEST: "HTTP request capture (not a WADO-RS retrieve)",
}

_ROOT = re.compile(rb"<(?![?!])(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")
_HEAD = 8192


def detect(data: bytes, name: str = "") -> FileType | None:
    """The type of a captured file, or None when it is none of the known artefacts."""
    if data[128:132] == b"DICM" or (name.lower().endswith(".dcm") and data[:2] in (b"\x02\x00", b"\x08\x00")):
        return FileType.DICOM
    text = data.lstrip(b"\xef\xbb\xbf\x0b \t\r\n")
    if re.match(rb"(MSH|FHS|BHS)[^A-Za-z0-9\r\n]", text):
        return FileType.HL7
    if is_response(text):
        if b"RegistryResponse" in text and b"Envelope" in text:  # an ITI-41 answer (MTOM or plain SOAP) over HTTP
            return FileType.XDS_RESPONSE
        return FileType.WADO_RESPONSE
    if is_request(text):
        if text.startswith(b"POST ") and b"ProvideAndRegisterDocumentSetRequest" in text:
            return FileType.XDS_SUBMISSION
        try:
            request = parse_request(text)
        except WadoParseError:
            return None
        return FileType.WADO_REQUEST if request.retrieve is not None else FileType.HTTP_REQUEST
    if text.startswith((b"--", b"<")) or re.match(rb"(?i)content-type:", text):
        return _xml_type(text)
    return None


def _xml_type(text: bytes) -> FileType | None:
    if b"ProvideAndRegisterDocumentSetRequest" in text:
        return FileType.XDS_SUBMISSION
    if b"RegistryResponse" in text and b"Envelope" in text:
        return FileType.XDS_RESPONSE
    head = re.sub(rb"<!--.*?-->", b"", text[:_HEAD], flags=re.DOTALL)
    match = _ROOT.search(head)
    root = match.group(1) if match else b""
    return {
        b"ClinicalDocument": FileType.CDA,
        b"ListeBlancheDRIM-M": FileType.TRUST_LIST,
        b"file-format": FileType.DICOM_XML,
    }.get(root)
