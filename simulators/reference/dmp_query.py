"""The reference DRIMbox's consultation of the DMP (consumer role, VA-D1): ITI-18 then ITI-43.

ITI-18 Registry Stored Query FindDocuments by the patient's INS
(``<INS>^^^&<OID>&ISO^NH``, status Approved, returnType LeafClass) lists the
KOS entries (formatCode / mimeType ``application/dicom``); ITI-43 Retrieve
Document Set fetches each KOS (MTOM response, the KOS is the binary part).
Same mutual TLS and SOAP/WS-Addressing machinery as publication
(``dmp_client``), with a consultation VIHF (``vihf.consultation_vihf``:
INDIRECTE_RENFORCEE, NameID = the professional). dmp-xds.md §7.

Network trouble never raises: every call returns a result with ``ok`` and errors.
"""

from __future__ import annotations

import base64
import email.message
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from simulators.reference.dmp_client import (
    MimePart,
    mtls_http_client,
    mtom_request,
    parse_registry_response,
    soap_envelope,
    split_multipart,
)
from simulators.reference.vihf import VIHF_VERSION, VihfSigner, consultation_vihf
from simulators.reference.xds_metadata import (
    DE_UNIQUE_ID,
    RIM,
    STATUS_APPROVED,
    XDSB,
    XOP,
)

ITI18_ACTION = "urn:ihe:iti:2007:RegistryStoredQuery"
ITI43_ACTION = "urn:ihe:iti:2007:RetrieveDocumentSet"
FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
QUERY_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
KOS_MIME = "application/dicom"
REPOSITORY_UNIQUE_ID_SLOT = "repositoryUniqueId"
REFERENCE_ID_LIST_SLOT = "urn:ihe:iti:xds:2013:referenceIdList"
NS = {"rim": RIM, "xdsb": XDSB, "xop": XOP, "query": QUERY_NS}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class Consultant:
    """The professional on whose behalf the DMP is consulted (from the PSC token)."""

    national_id: str  # "8" + RPPS
    name: str  # "given family"
    profession_code: str = "10"


@dataclass(frozen=True)
class KosEntry:
    entry_uuid: str
    unique_id: str  # the KOS SOP Instance UID
    repository_unique_id: str
    mime_type: str
    reference_ids: tuple[str, ...]


@dataclass(frozen=True)
class QueryResult:
    ok: bool
    entries: tuple[KosEntry, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True)
class RetrieveResult:
    ok: bool
    document: bytes
    errors: tuple[str, ...]


class DmpQueryClient:
    """ITI-18 / ITI-43 client of the reference DRIMbox (consumer role)."""

    def __init__(
        self,
        *,
        registry_url: str,
        repository_url: str,
        ca_cert: Path,
        client_cert: Path | None,
        client_key: Path | None,
        signing_cert: Path,
        signing_key: Path,
        lps: Mapping[str, str],
        structure_id: str | None = None,
        facility_code: str = "SA01",
        timeout_s: float = 10.0,
        log: logging.Logger | None = None,
        vihf_version: str = VIHF_VERSION,
    ) -> None:
        self._vihf_version = vihf_version
        self._registry_url = registry_url
        self._repository_url = repository_url
        self._lps = dict(lps)
        self._signer = VihfSigner.from_files(signing_cert, signing_key)
        # Decision: the structure is the OU of the organisation's signing certificate unless configured.
        self._structure_id = structure_id or _ou_of(self._signer)
        self._facility_code = facility_code
        self._http = mtls_http_client(ca_cert, client_cert, client_key, timeout_s)
        self.log = log or logging.getLogger("reference.dmp_query")

    def find_kos(self, ins: str, ins_oid: str, consultant: Consultant) -> QueryResult:
        """ITI-18 FindDocuments: the patient's Approved KOS entries."""
        patient_id = f"{ins}^^^&{ins_oid}&ISO^NH"
        body = find_documents_request(patient_id)
        envelope = soap_envelope(ITI18_ACTION, self._registry_url, self._vihf(patient_id, consultant), body)
        content_type = f'application/soap+xml; charset=UTF-8; action="{ITI18_ACTION}"'
        response, error = self._post(self._registry_url, envelope, content_type)
        if response is None:
            return QueryResult(False, (), (error,))
        try:
            status, errors, entries = parse_query_response(_root_xml(response))
        except (ValueError, etree.XMLSyntaxError) as exc:
            status, errors, entries = "", (f"unreadable query response: {exc}",), ()
        if not status and not errors:  # a SOAP Fault or something else: say what it was
            errors = parse_registry_response(response.headers.get("content-type", ""), response.content)[1]
        if response.status_code != 200 or status != SUCCESS:
            errors = (f"HTTP {response.status_code}, status {status or 'absent'}", *errors)
        ok = response.status_code == 200 and status == SUCCESS and not errors
        self.log.info("ITI-18 FindDocuments %s: %d KOS entries%s", patient_id, len(entries), _detail(errors))
        return QueryResult(ok, entries, errors)

    def retrieve(self, entry: KosEntry, ins: str, ins_oid: str, consultant: Consultant) -> RetrieveResult:
        """ITI-43 RetrieveDocumentSet of one entry: the document bytes (the MTOM binary part)."""
        patient_id = f"{ins}^^^&{ins_oid}&ISO^NH"
        body = retrieve_request(entry.repository_unique_id, entry.unique_id)
        envelope = soap_envelope(ITI43_ACTION, self._repository_url, self._vihf(patient_id, consultant), body)
        root_cid = f"root.{uuid.uuid4().hex}@drimbox"
        content, content_type = mtom_request(envelope, root_cid, [], ITI43_ACTION)
        response, error = self._post(self._repository_url, content, content_type)
        if response is None:
            return RetrieveResult(False, b"", (error,))
        try:
            document, errors = parse_retrieve_response(response.headers.get("content-type", ""), response.content)
        except (ValueError, etree.XMLSyntaxError) as exc:
            document, errors = b"", (f"unreadable retrieve response: {exc}",)
        if response.status_code != 200:
            errors = (f"HTTP {response.status_code}", *errors)
        ok = response.status_code == 200 and bool(document) and not errors
        self.log.info("ITI-43 retrieve %s: %d bytes%s", entry.unique_id, len(document), _detail(errors))
        return RetrieveResult(ok, document if ok else b"", errors)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DmpQueryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _vihf(self, patient_id: str, consultant: Consultant) -> etree._Element:
        return consultation_vihf(
            professional_id=consultant.national_id,
            professional_name=consultant.name,
            profession_code=consultant.profession_code,
            structure_id=self._structure_id,
            facility_code=self._facility_code,
            patient_id=patient_id,
            lps=self._lps,
            signer=self._signer,
            version=self._vihf_version,
        )

    def _post(self, url: str, content: bytes, content_type: str) -> tuple[httpx.Response | None, str]:
        try:
            return self._http.post(url, content=content, headers={"Content-Type": content_type}), ""
        except (httpx.HTTPError, OSError) as exc:
            self.log.warning("DMP %s unreachable: %s: %s", url, type(exc).__name__, exc)
            return None, f"{type(exc).__name__}: {exc}"


def find_documents_request(patient_id: str) -> etree._Element:
    """AdhocQueryRequest FindDocuments, LeafClass, Approved, for one patient id."""
    request = etree.Element(etree.QName(QUERY_NS, "AdhocQueryRequest"), nsmap={"query": QUERY_NS, "rim": RIM})
    etree.SubElement(request, etree.QName(QUERY_NS, "ResponseOption"), returnComposedObjects="true",
                     returnType="LeafClass")
    query = etree.SubElement(request, etree.QName(RIM, "AdhocQuery"), id=FIND_DOCUMENTS)
    for name, value in (
        ("$XDSDocumentEntryPatientId", f"'{patient_id}'"),
        ("$XDSDocumentEntryStatus", f"('{STATUS_APPROVED}')"),
    ):
        slot = etree.SubElement(query, etree.QName(RIM, "Slot"), name=name)
        etree.SubElement(etree.SubElement(slot, etree.QName(RIM, "ValueList")), etree.QName(RIM, "Value")).text = value
    return request


def retrieve_request(repository_unique_id: str, document_unique_id: str) -> etree._Element:
    request = etree.Element(etree.QName(XDSB, "RetrieveDocumentSetRequest"), nsmap={"xdsb": XDSB})
    document = etree.SubElement(request, etree.QName(XDSB, "DocumentRequest"))
    etree.SubElement(document, etree.QName(XDSB, "RepositoryUniqueId")).text = repository_unique_id
    etree.SubElement(document, etree.QName(XDSB, "DocumentUniqueId")).text = document_unique_id
    return request


def parse_query_response(xml: bytes) -> tuple[str, tuple[str, ...], tuple[KosEntry, ...]]:
    """(AdhocQueryResponse/@status, errors, KOS entries) of an ITI-18 answer; status "" when absent."""
    root = etree.fromstring(xml, _PARSER)
    responses = root.xpath("//query:AdhocQueryResponse", namespaces=NS)
    if not responses:
        return "", (), ()
    response = responses[0]
    errors = tuple(
        f"{error.get('errorCode', '?')}: {error.get('codeContext', '')}"
        for error in response.xpath(".//*[local-name()='RegistryError']")
        if error.get("severity", "").rsplit(":", 1)[-1] in ("", "Error")
    )
    return response.get("status", ""), errors, parse_kos_entries(response)


def parse_kos_entries(root: etree._Element) -> tuple[KosEntry, ...]:
    """The ``application/dicom`` ExtrinsicObjects of an AdhocQueryResponse."""
    entries = []
    for obj in root.xpath(".//rim:RegistryObjectList/rim:ExtrinsicObject", namespaces=NS):
        if obj.get("mimeType") != KOS_MIME:
            continue
        unique_id = obj.xpath("rim:ExternalIdentifier[@identificationScheme=$s]/@value", s=DE_UNIQUE_ID, namespaces=NS)
        entries.append(
            KosEntry(
                entry_uuid=obj.get("id", ""),
                unique_id=unique_id[0] if unique_id else "",
                repository_unique_id=next(iter(_slot(obj, REPOSITORY_UNIQUE_ID_SLOT)), ""),
                mime_type=KOS_MIME,
                reference_ids=tuple(_slot(obj, REFERENCE_ID_LIST_SLOT)),
            )
        )
    return tuple(entries)


def parse_retrieve_response(content_type: str, body: bytes) -> tuple[bytes, tuple[str, ...]]:
    """(document bytes, errors) of a RetrieveDocumentSetResponse, MTOM (xop:Include) or inline base64."""
    status, errors = parse_registry_response(content_type, body)
    if status != SUCCESS:
        return b"", errors or (f"registry status {status or 'absent'}",)
    parts = split_multipart(content_type, body) if "multipart/" in content_type.lower() else []
    xml = _start_part(content_type, parts) if parts else body
    root = etree.fromstring(xml, _PARSER)
    documents = root.xpath("//xdsb:DocumentResponse/xdsb:Document", namespaces=NS)
    if not documents:
        return b"", (*errors, "no DocumentResponse/Document in the answer")
    include = documents[0].xpath("xop:Include/@href", namespaces=NS)
    if include:
        cid = include[0].removeprefix("cid:")
        cid = unquote(cid)
        found = next((p.content for p in parts if p.content_id == cid), None)
        if found is None:
            return b"", (*errors, f"MTOM part cid:{cid} not found")
        return found, errors
    return base64.b64decode("".join((documents[0].text or "").split())), errors


def _start_part(content_type: str, parts: list[MimePart]) -> bytes:
    header = email.message.Message()
    header["Content-Type"] = content_type
    start = str(header.get_param("start") or "").strip("<>")
    return next((p.content for p in parts if start and p.content_id == start), parts[0].content)


def _root_xml(response: httpx.Response) -> bytes:
    content_type = response.headers.get("content-type", "")
    if "multipart/" in content_type.lower():
        return _start_part(content_type, split_multipart(content_type, response.content))
    return response.content


def _slot(obj: etree._Element, name: str) -> list[str]:
    return [v.strip() for v in obj.xpath("rim:Slot[@name=$n]/rim:ValueList/rim:Value/text()", n=name, namespaces=NS)]


def _ou_of(signer: VihfSigner) -> str:
    subject = x509.load_pem_x509_certificate(signer.cert_pem).subject
    values = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(values[0].value) if values else ""


def _detail(errors: tuple[str, ...]) -> str:
    return f" ({'; '.join(errors)})" if errors else ""
