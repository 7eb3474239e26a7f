"""The reference DRIMbox's DMP client: ITI-41 (MTOM/XOP) and ITI-57 over mutual TLS.

SOAP 1.2 with WS-Addressing and the signed VIHF in `wsse:Security`
(dmp-xds.md §1, §2, §8). Network trouble never raises: every call returns a
`PublishResult`, `ok=False` with the reason.
"""

from __future__ import annotations

import dataclasses

import email.message
import logging
import re
import socket
import ssl
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from lxml import etree

from simulators.reference import xds_metadata
from simulators.reference.dsg import signature_document
from simulators.reference.publication import KosPublication, PublishResult
from simulators.reference.vihf import VIHF_VERSION, VihfSigner, alter_vihf, demo_signer, vihf_assertion

PARIS = ZoneInfo("Europe/Paris")  # the fault xds_local_creation_time writes its local time
log = logging.getLogger(__name__)

SOAP = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
ITI41_ACTION = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
ITI57_ACTION = "urn:ihe:iti:2010:UpdateDocumentSet"
SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"

# The faults read here are declared, with their targets, in simulators/reference/faults.py:
# xds_wrong_typecode, xds_wrong_hash, vihf_unsigned, dmp_no_client_cert, and the other xds_* / vihf_* ones
# (some through xds_metadata.provide_and_register_request's `faults` and vihf.alter_vihf).
# What `xds_wrong_typecode` sends: a realistic slip, the CR's own typeCode (dmp-xds.md §10).
WRONG_TYPE_CODE = xds_metadata.Code("18748-4", "2.16.840.1.113883.6.1", "CR d'imagerie médicale")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


class DmpClient:
    """ITI-41 / ITI-57 client of the reference DRIMbox (source role)."""

    def __init__(
        self,
        *,
        repository_url: str,
        registry_url: str,
        ca_cert: Path,
        client_cert: Path | None,
        client_key: Path | None,
        signing_cert: Path,
        signing_key: Path,
        lps: Mapping[str, str],
        source_id: str,
        timeout_s: float,
        faults: frozenset[str],
        vihf_version: str = VIHF_VERSION,
        dsg_signature: bool = False,
    ) -> None:
        self._repository_url = repository_url
        self._dsg_signature = dsg_signature
        self._vihf_version = vihf_version
        self._registry_url = registry_url
        self._lps = dict(lps)
        self._source_id = source_id
        self._faults = faults
        # vihf_demo_profile: the installation's demo VIHF profile left on, its self-signed certificate with it
        demo = "vihf_demo_profile" in faults
        self._signer = demo_signer() if demo else VihfSigner.from_files(signing_cert, signing_key)
        with_cert = client_cert is not None and "dmp_no_client_cert" not in faults
        self._http = mtls_http_client(ca_cert, client_cert if with_cert else None, client_key, timeout_s)

    def publish(self, pub: KosPublication) -> PublishResult:
        """ITI-41 Provide and Register Document Set-b of the KOS, as MTOM/XOP."""
        entry_uuid = xds_metadata.new_urn_uuid()
        submission = xds_metadata.new_submission(self._source_id)
        token = uuid.uuid4().hex
        root_cid, kos_cid = f"root.{token}@drimbox", f"kos.{token}@drimbox"
        if "xds_ignore_masking_flags" in self._faults:
            pub = dataclasses.replace(pub, masking_flags=())
        # xds_wrong_hash: the file attached from byte 132 on, its hash and size declared for the whole file
        attached = pub.kos_bytes[132:] if "xds_wrong_hash" in self._faults else pub.kos_bytes
        if "xds_cx_without_type" in self._faults:
            pub = dataclasses.replace(pub, patient_id_type="")
        if "xds_local_creation_time" in self._faults:  # Paris time written as if it were UTC
            pub = dataclasses.replace(pub, creation_time=datetime.now(PARIS).strftime("%Y%m%d%H%M%S"))
        if "xds_no_event_codes" in self._faults:
            pub = dataclasses.replace(pub, modalities=())
        metadata = dataclasses.replace(pub, organisation_id="") if "xds_no_author_institution" in self._faults else pub
        signature = None
        if self._dsg_signature or "xds_signature_not_signing" in self._faults:  # the KOS entry and its Signature01
            data = signature_document(submission.unique_id, [(pub.kos_sop_instance_uid, pub.kos_bytes)], self._signer)
            signature = xds_metadata.SignaturePart(xds_metadata.new_urn_uuid(), xds_metadata.new_oid(), f"sig.{token}@drimbox", data)
        body = xds_metadata.provide_and_register_request(
            metadata,
            submission,
            entry_uuid=entry_uuid,
            document_cid=kos_cid,
            type_code=WRONG_TYPE_CODE if "xds_wrong_typecode" in self._faults else xds_metadata.KOS_TYPE_CODE,
            signature=signature,
            faults=self._faults,
        )
        envelope = self._envelope(ITI41_ACTION, self._repository_url, pub, body)
        parts = [(kos_cid, "application/dicom", attached)]
        if signature is not None:
            parts.append((signature.cid, "text/xml", signature.data))
        if "xds_soap11_inline" in self._faults:  # a SOAP 1.1 stack: the KOS inline in base64, no MTOM package
            content, content_type = soap11(envelope), f'text/xml; charset=UTF-8; action="{ITI41_ACTION}"'
        else:
            content, content_type = mtom_request(envelope, root_cid, parts, ITI41_ACTION)
        result = self._post(self._repository_url, content, content_type, entry_uuid, pub.kos_sop_instance_uid)
        log.info(
            "ITI-41 KOS %s (study %s) as %s%s: %s",
            pub.kos_sop_instance_uid,
            pub.study_uid,
            entry_uuid,
            f" replacing {pub.replaces_entry_uuid}" if pub.replaces_entry_uuid else "",
            _summary(result),
        )
        return result

    def update_status(self, entry_uuid: str, new_status: str, pub: KosPublication) -> PublishResult:
        """ITI-57 Update Document Set: change the availability status of a published entry."""
        submission = xds_metadata.new_submission(self._source_id)
        # xds_status_update_by_unique_id: the association targets the KOS uniqueId, not the entry's entryUUID
        target = pub.kos_sop_instance_uid if "xds_status_update_by_unique_id" in self._faults else entry_uuid
        body = xds_metadata.update_availability_request(pub, submission, entry_uuid=target, new_status=new_status)
        envelope = self._envelope(ITI57_ACTION, self._registry_url, pub, body)
        content_type = f'application/soap+xml; charset=UTF-8; action="{ITI57_ACTION}"'
        result = self._post(self._registry_url, envelope, content_type, entry_uuid, pub.kos_sop_instance_uid)
        log.info(
            "ITI-57 entry %s (KOS %s) -> %s: %s", entry_uuid, pub.kos_sop_instance_uid, new_status, _summary(result)
        )
        return result

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DmpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _envelope(self, action: str, to: str, pub: KosPublication, body: etree._Element) -> bytes:
        if "vihf_absent" in self._faults:  # the structure's TLS certificate taken for enough
            return soap_envelope(action, to, None, body)
        signed = "vihf_unsigned" not in self._faults
        issued = datetime.now(timezone.utc) - timedelta(hours=2) if "vihf_expired" in self._faults else None
        assertion = vihf_assertion(
            pub, lps=self._lps, signer=self._signer, signed=signed, version=self._vihf_version, now=issued,
            alter=lambda built: alter_vihf(built, self._faults),
        )
        return soap_envelope(action, to, assertion, body)

    def _post(self, url: str, content: bytes, content_type: str, entry_uuid: str, unique_id: str) -> PublishResult:
        try:
            response = self._http.post(url, content=content, headers={"Content-Type": content_type})
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            return PublishResult(False, entry_uuid, unique_id, 0, "", (f"{type(exc).__name__}: {exc}",))
        status, errors = parse_registry_response(response.headers.get("content-type", ""), response.content)
        if not (200 <= response.status_code < 300):
            errors = (f"HTTP {response.status_code}", *errors)
        ok = 200 <= response.status_code < 300 and status == SUCCESS and not _has_error(errors)
        if not ok and not errors:
            errors = (f"registry status {status or 'absent'}",)
        return PublishResult(ok, entry_uuid, unique_id, response.status_code, status, errors)


def mtls_http_client(
    ca_cert: Path, client_cert: Path | None, client_key: Path | None, timeout_s: float
) -> httpx.Client:
    """An httpx client to the DMP: server verified with ``ca_cert``, TLS >= 1.2, client certificate if given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert is not None:
        context.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
    # TCP_NODELAY: the request head and body go out as separate writes; with Nagle's algorithm the
    # body waits for the server's delayed ACK (~40 ms on Linux) on every publication.
    transport = httpx.HTTPTransport(verify=context, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    # trust_env=False: no proxy from the environment between the DRIMbox and the DMP.
    return httpx.Client(transport=transport, timeout=httpx.Timeout(timeout_s), trust_env=False)


def soap_envelope(action: str, to: str, assertion: etree._Element | None, body: etree._Element) -> bytes:
    """SOAP 1.2 envelope with WS-Addressing (MessageID, To, Action) and the VIHF in ``wsse:Security`` (none
    without ``assertion``, the fault vihf_absent)."""
    envelope = etree.Element(etree.QName(SOAP, "Envelope"), nsmap={"soap": SOAP, "wsa": WSA})
    header = etree.SubElement(envelope, etree.QName(SOAP, "Header"))
    etree.SubElement(header, etree.QName(WSA, "MessageID")).text = f"urn:uuid:{uuid.uuid4()}"
    etree.SubElement(header, etree.QName(WSA, "To")).text = to
    action_el = etree.SubElement(header, etree.QName(WSA, "Action"))
    action_el.set(etree.QName(SOAP, "mustUnderstand"), "true")
    action_el.text = action
    if assertion is not None:
        etree.SubElement(header, etree.QName(WSSE, "Security"), nsmap={"wsse": WSSE}).append(assertion)
    etree.SubElement(envelope, etree.QName(SOAP, "Body")).append(body)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def soap11(envelope: bytes) -> bytes:
    """The SOAP 1.2 ``envelope`` in the SOAP 1.1 namespace (the fault xds_soap11_inline)."""
    return envelope.replace(SOAP.encode(), SOAP11.encode())


@dataclasses.dataclass(frozen=True)
class MimePart:
    headers: dict[str, str]  # lower-case names
    content: bytes

    @property
    def content_id(self) -> str:
        return self.headers.get("content-id", "").strip().strip("<>")


def split_multipart(content_type: str, body: bytes) -> list[MimePart]:
    """The parts of a multipart body (MTOM, DICOMweb), byte-exact: binary content is never trimmed.

    Raises ValueError when the body is not multipart or has no part.
    """
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not header.get_content_maintype() == "multipart" or not isinstance(boundary, str) or not boundary:
        raise ValueError(f"not a multipart content type with a boundary: {content_type!r}")
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary.encode("latin-1")) + rb"(--)?[ \t]*(?:\r?\n|$)")
    matches = list(delimiter.finditer(body))
    parts: list[MimePart] = []
    for current, following in zip(matches, matches[1:]):
        if current.group(1):  # closing delimiter
            break
        chunk = body[current.end() : following.start()]
        empty_head = re.match(rb"\r?\n", chunk)  # a part without headers
        blank = empty_head or re.search(rb"\r?\n\r?\n", chunk)
        if blank is None:
            raise ValueError("a part has no blank line between its headers and its content")
        head, content = (b"" if empty_head else chunk[: blank.start()]), chunk[blank.end() :]
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        parts.append(MimePart(headers, content))
    if not parts:
        raise ValueError("no part found in the multipart body")
    return parts


def mtom_request(
    envelope: bytes, root_cid: str, parts: list[tuple[str, str, bytes]], action: str
) -> tuple[bytes, str]:
    """A multipart/related XOP package: the SOAP root part, then (cid, content type, bytes) parts."""
    boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
    while any(boundary.encode() in data for _, _, data in parts):  # pragma: no cover - 2^-122
        boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
    chunks = [
        _part_head(boundary, 'application/xop+xml; charset=UTF-8; type="application/soap+xml"', root_cid),
        envelope,
    ]
    for cid, part_type, data in parts:
        chunks += [b"\r\n", _part_head(boundary, part_type, cid), data]
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    content_type = (
        f'multipart/related; boundary="{boundary}"; type="application/xop+xml"; start="<{root_cid}>"; '
        f'start-info="application/soap+xml"; action="{action}"'
    )
    return b"".join(chunks), content_type


def parse_registry_response(content_type: str, body: bytes) -> tuple[str, tuple[str, ...]]:
    """(RegistryResponse/@status, errors) of a plain SOAP or MTOM answer.

    A SOAP Fault gives status "" and its code and reason; an unreadable answer
    gives status "" and what was wrong.
    """
    xml = _root_part(content_type, body)
    try:
        document = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        return "", (f"unreadable response ({exc}): {body[:200]!r}",) if body else ("empty response",)
    fault = _soap_fault(document)
    if fault:
        return "", (fault,)
    responses = document.xpath("//*[local-name()='RegistryResponse']")
    if not responses:
        return "", (f"no RegistryResponse in the answer ({etree.QName(document).localname})",)
    response = responses[0]
    errors = tuple(
        "{severity}{code}: {context}{location}".format(
            severity=_severity_prefix(error.get("severity", "")),
            code=error.get("errorCode", "?"),
            context=error.get("codeContext", ""),
            location=f" ({error.get('location')})" if error.get("location") else "",
        )
        for error in response.xpath("*[local-name()='RegistryErrorList']/*[local-name()='RegistryError']")
    )
    return response.get("status", ""), errors


def _severity_prefix(severity: str) -> str:
    """'' for an Error (or no severity), '[Warning] ' for a warning."""
    name = severity.rsplit(":", 1)[-1]
    return "" if name in ("", "Error") else f"[{name}] "


def _has_error(errors: tuple[str, ...]) -> bool:
    return any(not error.startswith("[Warning]") for error in errors)


def _part_head(boundary: str, content_type: str, cid: str) -> bytes:
    return (
        f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{cid}>\r\n\r\n"
    ).encode()


def _root_part(content_type: str, body: bytes) -> bytes:
    """The SOAP envelope bytes of a response: the MTOM start part, or the body itself."""
    header = email.message.Message()
    header["Content-Type"] = content_type or "application/soap+xml"
    if header.get_content_type() == "multipart/related":
        boundary = header.get_param("boundary")
        start = str(header.get_param("start") or "").strip("<>")
        if isinstance(boundary, str) and boundary:
            parts = [part for chunk in body.split(f"--{boundary}".encode())[1:] if (part := _split_part(chunk)) is not None]
            for headers, payload in parts:
                if start and headers.get("content-id", "").strip().strip("<>") == start:
                    return payload
            if parts:
                return parts[0][1]
    return _envelope_slice(body)


def _split_part(chunk: bytes) -> tuple[dict[str, str], bytes] | None:
    if chunk.startswith(b"--"):  # closing delimiter
        return None
    match = re.search(rb"\r?\n\r?\n", chunk)
    if match is None:  # no blank line: a capture that lost its line breaks
        return {}, _envelope_slice(chunk)
    headers: dict[str, str] = {}
    for line in chunk[: match.start()].decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, chunk[match.end() :].rstrip(b"\r\n")


def _envelope_slice(data: bytes) -> bytes:
    """From the XML declaration or the Envelope start tag to the Envelope end tag, when found."""
    start = re.search(rb"<\?xml|<(?:[\w.-]+:)?Envelope[\s>]", data)
    ends = list(re.finditer(rb"</(?:[\w.-]+:)?Envelope\s*>", data))
    if start is None:
        return data.strip()
    return data[start.start() : ends[-1].end() if ends else len(data)]


def _soap_fault(document: etree._Element) -> str:
    faults = document.xpath(
        "//s12:Body/s12:Fault | //s11:Body/s11:Fault", namespaces={"s12": SOAP, "s11": SOAP11}
    )
    if not faults:
        return ""
    fault = faults[0]
    ns = {"s12": SOAP}
    codes = fault.xpath("s12:Code//s12:Value/text() | faultcode/text()", namespaces=ns)
    reasons = fault.xpath("s12:Reason/s12:Text/text() | faultstring/text()", namespaces=ns)
    return f"SOAP Fault {' / '.join(c.strip() for c in codes)}: {' '.join(r.strip() for r in reasons)}".strip()


def _summary(result: PublishResult) -> str:
    verdict = "accepted" if result.ok else "REFUSED"
    detail = "; ".join(result.errors)
    status = result.registry_status or "no status"
    return f"{verdict} (HTTP {result.http_status}, {status}){': ' + detail if detail else ''}"
