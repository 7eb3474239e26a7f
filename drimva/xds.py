"""XDS.b requests as a model: SOAP 1.2 / WS-Addressing envelope, ebRIM metadata, documents. Pure.

``parse_provide_and_register`` reads an ITI-41 request sent as MTOM/XOP
(multipart/related, ``xop:Include``) or as plain SOAP (inline base64
``Document``); ``parse_update_document_set`` reads an ITI-57 request.
``parse_capture`` reads a request saved as text (the demonstrator's
``publication.xml``). Consultation: ``parse_stored_query`` /
``stored_query_xml`` / ``adhoc_query_response`` / ``parse_query_response``
(ITI-18) and ``parse_retrieve_request`` / ``retrieve_request_xml`` /
``retrieve_response_xml`` / ``parse_retrieve_response`` (ITI-43). The serialisers at the end build the same XML from the
model (the DMP simulator's responses, tests).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from lxml import etree

from drimva import xmlsafe

from drimva.mime import MimeError, MtomMessage, parse_content_type

# -- namespaces --------------------------------------------------------------
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSA_NS = "http://www.w3.org/2005/08/addressing"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SAML2_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
RIM_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
RS_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
LCM_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
QUERY_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
XDSB_NS = "urn:ihe:iti:xds-b:2007"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
NS = {
    "soap": SOAP12_NS,
    "soap11": SOAP11_NS,
    "wsa": WSA_NS,
    "wsse": WSSE_NS,
    "saml2": SAML2_NS,
    "ds": DS_NS,
    "rim": RIM_NS,
    "rs": RS_NS,
    "lcm": LCM_NS,
    "query": QUERY_NS,
    "xdsb": XDSB_NS,
    "xop": XOP_NS,
}

# -- WS-Addressing actions -------------------------------------------------------
ACTION_ITI41 = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
ACTION_ITI41_RESPONSE = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"
ACTION_ITI57 = "urn:ihe:iti:2010:UpdateDocumentSet"
ACTION_ITI57_RESPONSE = "urn:ihe:iti:2010:UpdateDocumentSetResponse"
ACTION_ITI18 = "urn:ihe:iti:2007:RegistryStoredQuery"
ACTION_ITI18_RESPONSE = "urn:ihe:iti:2007:RegistryStoredQueryResponse"
ACTION_ITI43 = "urn:ihe:iti:2007:RetrieveDocumentSet"
ACTION_ITI43_RESPONSE = "urn:ihe:iti:2007:RetrieveDocumentSetResponse"

# -- object types and classification nodes ----------------------------------------------
DOCUMENT_ENTRY_STABLE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DOCUMENT_ENTRY_ON_DEMAND = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
FOLDER_NODE = "urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2"
REGISTRY_PACKAGE_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"

# -- DocumentEntry classification / identification schemes -----------------------------
DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_CONFIDENTIALITY_CODE = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_HEALTHCARE_FACILITY_TYPE_CODE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE_SETTING_CODE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_EVENT_CODE_LIST = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

# -- SubmissionSet schemes ------------------------------------------------------------
SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SS_CONTENT_TYPE_CODE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"

# -- associations, statuses --------------------------------------------------------
ASSOC_HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
ASSOC_RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"
ASSOC_XFRM = "urn:ihe:iti:2007:AssociationType:XFRM"
ASSOC_APND = "urn:ihe:iti:2007:AssociationType:APND"
ASSOC_SIGNS = "urn:ihe:iti:2007:AssociationType:signs"
ASSOC_UPDATE_AVAILABILITY_STATUS = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"
STATUS_APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
STATUS_DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
STATUS_DELETED_ASIP = "urn:asip:ci-sis:2010:StatusType:Deleted"
RESPONSE_SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
RESPONSE_FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
RESPONSE_PARTIAL_SUCCESS = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
ERROR_SEVERITY_ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"

SAFE_PARSER = xmlsafe.parser()  # re-parsing drimva's own serialisations; untrusted bytes go through parse_xml


class XdsParseError(ValueError):
    """The request is not a readable SOAP / XDS.b message; the message says what is wrong."""


# -- model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    id: str = ""
    scheme: str = ""  # classificationScheme (coded metadata) or "" (node classification)
    node: str = ""  # classificationNode (e.g. the submission set node)
    classified_object: str = ""
    node_representation: str = ""
    coding_scheme: str | None = None  # slot codingScheme
    display_name: str = ""
    slots: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class RegistryObject:
    id: str = ""
    object_type: str = ""
    status: str = ""
    slots: dict[str, list[str]] = field(default_factory=dict)
    classifications: list[Classification] = field(default_factory=list)
    external_identifiers: dict[str, str] = field(default_factory=dict)  # scheme UUID -> value
    name: str = ""
    description: str = ""

    def slot(self, name: str) -> str | None:
        values = self.slots.get(name)
        return values[0] if values else None


@dataclass
class DocumentEntry(RegistryObject):
    mime_type: str = ""


@dataclass
class RegistryPackage(RegistryObject):
    @property
    def is_submission_set(self) -> bool:
        return any(c.node == SUBMISSION_SET_NODE for c in self.classifications)


@dataclass
class Association:
    id: str = ""
    type: str = ""
    source: str = ""
    target: str = ""
    slots: dict[str, list[str]] = field(default_factory=dict)

    def slot(self, name: str) -> str | None:
        values = self.slots.get(name)
        return values[0] if values else None


@dataclass
class SoapMessage:
    """A SOAP envelope with its WS-Addressing headers, VIHF assertion and (MTOM) attachments."""

    envelope: etree._Element
    soap_version: str  # "1.2" or "1.1"
    content_type: str
    mtom: MtomMessage | None
    action: str | None
    message_id: str | None
    to: str | None
    relates_to: str | None
    assertion: etree._Element | None
    body: etree._Element | None  # first element child of soap:Body


@dataclass
class SubmitObjects:
    """The content of an ``lcm:SubmitObjectsRequest``."""

    packages: list[RegistryPackage] = field(default_factory=list)
    document_entries: list[DocumentEntry] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)

    @property
    def submission_set(self) -> RegistryPackage | None:
        return next((p for p in self.packages if p.is_submission_set), None)


@dataclass
class ProvideAndRegister:
    """An ITI-41 request."""

    soap: SoapMessage
    metadata: SubmitObjects
    documents: dict[str, bytes]  # DocumentEntry id -> bytes
    document_refs: dict[str, str]  # DocumentEntry id -> "cid:..." or "inline"
    document_errors: dict[str, str]  # DocumentEntry id -> why its bytes could not be read

    soap_version = property(lambda self: self.soap.soap_version)
    mtom = property(lambda self: self.soap.mtom is not None)
    action = property(lambda self: self.soap.action)
    message_id = property(lambda self: self.soap.message_id)
    to = property(lambda self: self.soap.to)
    assertion = property(lambda self: self.soap.assertion)
    submission_set = property(lambda self: self.metadata.submission_set)
    document_entries = property(lambda self: self.metadata.document_entries)
    associations = property(lambda self: self.metadata.associations)


@dataclass(frozen=True)
class StatusUpdate:
    association_id: str
    source: str
    target: str
    original_status: str | None
    new_status: str | None


@dataclass
class UpdateDocumentSet:
    """An ITI-57 request."""

    soap: SoapMessage
    metadata: SubmitObjects

    soap_version = property(lambda self: self.soap.soap_version)
    action = property(lambda self: self.soap.action)
    message_id = property(lambda self: self.soap.message_id)
    assertion = property(lambda self: self.soap.assertion)
    submission_set = property(lambda self: self.metadata.submission_set)
    associations = property(lambda self: self.metadata.associations)

    @property
    def status_updates(self) -> list[StatusUpdate]:
        return [
            StatusUpdate(a.id, a.source, a.target, a.slot("OriginalStatus"), a.slot("NewStatus"))
            for a in self.metadata.associations
            if a.type == ASSOC_UPDATE_AVAILABILITY_STATUS
        ]


def classification(obj: RegistryObject, scheme_uuid: str) -> Classification | None:
    return next((c for c in obj.classifications if c.scheme == scheme_uuid), None)


def classifications(obj: RegistryObject, scheme_uuid: str) -> list[Classification]:
    return [c for c in obj.classifications if c.scheme == scheme_uuid]


def external_id(obj: RegistryObject, scheme_uuid: str) -> str | None:
    return obj.external_identifiers.get(scheme_uuid)


# -- parsing -------------------------------------------------------------------------


def parse_xml(data: bytes, what: str = "XML") -> etree._Element:
    """Parse with the hardened parser of :mod:`drimva.xmlsafe` (no DTD, no entities, no network, bounded)."""
    try:
        return xmlsafe.parse(data)
    except xmlsafe.XmlError as exc:
        raise XdsParseError(f"{what}: {exc}") from None


def parse_soap_message(body: bytes, content_type: str) -> SoapMessage:
    """Read the envelope of a SOAP request sent as MTOM (multipart/related) or as plain XML."""
    try:
        mime_type, _ = parse_content_type(content_type or "application/soap+xml")
    except MimeError as exc:
        raise XdsParseError(f"bad Content-Type: {exc}") from None
    mtom = None
    xml = body
    if mime_type == "multipart/related":
        try:
            mtom = MtomMessage.parse(body, content_type)
            xml = mtom.root.content
        except MimeError as exc:
            raise XdsParseError(f"MTOM body cannot be read: {exc}") from None
    elif mime_type.startswith("multipart/"):
        raise XdsParseError(f"Content-Type {mime_type} is not multipart/related")
    envelope = parse_xml(xml, "the SOAP envelope")
    qname = etree.QName(envelope)
    if qname.localname != "Envelope" or qname.namespace not in (SOAP12_NS, SOAP11_NS):
        raise XdsParseError(f"root element is {{{qname.namespace}}}{qname.localname}, not a SOAP Envelope")
    version = "1.2" if qname.namespace == SOAP12_NS else "1.1"
    soap = qname.namespace
    header = envelope.find(f"{{{soap}}}Header")
    body_el = envelope.find(f"{{{soap}}}Body")
    if body_el is None:
        raise XdsParseError("the SOAP envelope has no Body")

    def wsa(name: str) -> str | None:
        el = header.find(f"{{{WSA_NS}}}{name}") if header is not None else None
        return el.text.strip() if el is not None and el.text else None

    assertion = None
    if header is not None:
        assertion = header.find(f"{{{WSSE_NS}}}Security/{{{SAML2_NS}}}Assertion")
    first = next((c for c in body_el if isinstance(c.tag, str)), None)
    return SoapMessage(
        envelope=envelope,
        soap_version=version,
        content_type=content_type,
        mtom=mtom,
        action=wsa("Action"),
        message_id=wsa("MessageID"),
        to=wsa("To"),
        relates_to=wsa("RelatesTo"),
        assertion=assertion,
        body=first,
    )


_PREFIXES = {XDSB_NS: "xds-b", LCM_NS: "lcm", QUERY_NS: "query"}  # how errors name the expected element


def _soap_body(body: bytes, content_type: str, namespace: str, tag: str) -> tuple[SoapMessage, etree._Element]:
    """The SOAP message and its Body's element, which must be ``{namespace}tag``."""
    soap = parse_soap_message(body, content_type)
    element = soap.body
    if element is None or element.tag != f"{{{namespace}}}{tag}":
        found = etree.QName(element).text if element is not None else "(empty Body)"
        raise XdsParseError(f"Body holds {found}, not {_PREFIXES.get(namespace, namespace)}:{tag}")
    return soap, element


def parse_provide_and_register(body: bytes, content_type: str) -> ProvideAndRegister:
    soap, request = _soap_body(body, content_type, XDSB_NS, "ProvideAndRegisterDocumentSetRequest")
    sor = request.find(f"{{{LCM_NS}}}SubmitObjectsRequest")
    if sor is None:
        raise XdsParseError("ProvideAndRegisterDocumentSetRequest has no lcm:SubmitObjectsRequest")
    metadata = parse_submit_objects(sor)
    documents: dict[str, bytes] = {}
    refs: dict[str, str] = {}
    errors: dict[str, str] = {}
    for doc in request.findall(f"{{{XDSB_NS}}}Document"):
        doc_id = doc.get("id") or ""
        include = doc.find(f"{{{XOP_NS}}}Include")
        if include is not None:
            href = include.get("href") or ""
            refs[doc_id] = href
            if soap.mtom is None:
                errors[doc_id] = f"xop:Include {href!r} in a message that is not MTOM (no MIME part to resolve)"
                continue
            try:
                documents[doc_id] = soap.mtom.resolve_xop(href)
            except MimeError as exc:
                errors[doc_id] = str(exc)
        else:
            refs[doc_id] = "inline"
            try:
                documents[doc_id] = base64.b64decode("".join((doc.text or "").split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                errors[doc_id] = f"inline Document is not base64: {exc}"
    return ProvideAndRegister(soap, metadata, documents, refs, errors)


def parse_update_document_set(body: bytes, content_type: str) -> UpdateDocumentSet:
    soap, sor = _soap_body(body, content_type, LCM_NS, "SubmitObjectsRequest")
    return UpdateDocumentSet(soap, parse_submit_objects(sor))


def parse_submit_objects(sor: etree._Element) -> SubmitObjects:
    rol = sor.find(f"{{{RIM_NS}}}RegistryObjectList")
    if rol is None:
        raise XdsParseError("SubmitObjectsRequest has no rim:RegistryObjectList")
    result = SubmitObjects()
    loose: list[Classification] = []
    for el in rol:
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if etree.QName(el).namespace != RIM_NS:
            continue
        if local == "ExtrinsicObject":
            entry = DocumentEntry(mime_type=el.get("mimeType", ""))
            _fill(entry, el)
            result.document_entries.append(entry)
        elif local == "RegistryPackage":
            package = RegistryPackage()
            _fill(package, el)
            result.packages.append(package)
        elif local == "Association":
            result.associations.append(
                Association(
                    id=el.get("id", ""),
                    type=el.get("associationType", ""),
                    source=el.get("sourceObject", ""),
                    target=el.get("targetObject", ""),
                    slots=_slots(el),
                )
            )
        elif local == "Classification":
            loose.append(_classification(el))
    objects: dict[str, RegistryObject] = {o.id: o for o in [*result.packages, *result.document_entries]}
    for item in loose:
        if item.classified_object in objects:
            objects[item.classified_object].classifications.append(item)
    return result


def _fill(obj: RegistryObject, el: etree._Element) -> None:
    obj.id = el.get("id", "")
    obj.object_type = el.get("objectType", "")
    obj.status = el.get("status", "")
    obj.slots = _slots(el)
    obj.classifications = [_classification(c) for c in el.findall(f"{{{RIM_NS}}}Classification")]
    obj.external_identifiers = {
        x.get("identificationScheme", ""): x.get("value", "") for x in el.findall(f"{{{RIM_NS}}}ExternalIdentifier")
    }
    obj.name = _localized(el, "Name")
    obj.description = _localized(el, "Description")


def _slots(el: etree._Element) -> dict[str, list[str]]:
    slots: dict[str, list[str]] = {}
    for slot in el.findall(f"{{{RIM_NS}}}Slot"):
        values = [(v.text or "").strip() for v in slot.findall(f"{{{RIM_NS}}}ValueList/{{{RIM_NS}}}Value")]
        slots.setdefault(slot.get("name", ""), []).extend(values)
    return slots


def _localized(el: etree._Element, child: str) -> str:
    found = el.find(f"{{{RIM_NS}}}{child}/{{{RIM_NS}}}LocalizedString")
    return found.get("value", "") if found is not None else ""


def _classification(el: etree._Element) -> Classification:
    slots = _slots(el)
    coding = slots.get("codingScheme")
    return Classification(
        id=el.get("id", ""),
        scheme=el.get("classificationScheme", ""),
        node=el.get("classificationNode", ""),
        classified_object=el.get("classifiedObject", ""),
        node_representation=el.get("nodeRepresentation", ""),
        coding_scheme=coding[0] if coding else None,
        display_name=_localized(el, "Name"),
        slots=slots,
    )


# -- captures saved as text -------------------------------------------------------------


def capture_to_http(data: bytes) -> tuple[bytes, str]:
    """Recover (body, Content-Type) from a request saved as text.

    Accepts a plain SOAP envelope, an HTTP request or header block followed by
    a blank line, or a bare MTOM body whose boundary and part headers may be
    indented (as in the demonstrator's ``publication.xml``). Indentation is
    removed from boundary and header lines, and from the first line of an XML
    part; the rest of each part is kept as is.
    """
    text = data.lstrip()
    content_type = None
    head_match = re.match(rb"(?:(?:(?:POST|PUT) \S+ HTTP/1\.[01]|HTTP/1\.[01] \d{3}[^\n]*)\r?\n)?((?:[A-Za-z-]+:[^\n]*\n)+)\r?\n", text)
    if head_match and re.search(rb"(?im)^content-type:", head_match.group(1)):
        for line in head_match.group(1).splitlines():
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-type":
                content_type = value.strip().decode("latin-1")
        text = text[head_match.end() :]
    if not text.startswith(b"--"):
        return text, content_type or "application/soap+xml; charset=UTF-8"
    first_line = text.split(b"\n", 1)[0].strip()
    boundary = first_line[2:].decode("latin-1")
    out: list[bytes] = []
    state = "content"
    root_cid = None
    base64_part = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped in (b"--" + boundary.encode("latin-1"), b"--" + boundary.encode("latin-1") + b"--"):
            out.append(stripped + b"\r\n")
            state, base64_part = "headers", False
            continue
        if state == "headers":
            if not stripped:
                out.append(b"\r\n")
                state = "first"
                continue
            if stripped.lower().startswith(b"content-id:") and root_cid is None:
                root_cid = stripped.split(b":", 1)[1].strip().decode("latin-1")
            if stripped.lower().startswith(b"content-transfer-encoding:") and b"base64" in stripped.lower():
                base64_part = True
            out.append(stripped + b"\r\n")
            continue
        if state == "first":
            state = "content"
            if not base64_part and stripped.startswith(b"<"):
                line = line.lstrip(b" \t")
        out.append(line)
    body = b"".join(out)
    if content_type is None:
        content_type = f'multipart/related; boundary="{boundary}"; type="application/xop+xml"'
        if root_cid:
            content_type += f'; start="{root_cid}"'
        content_type += '; start-info="application/soap+xml"'
    return body, content_type


def parse_capture(data: bytes) -> ProvideAndRegister:
    """``parse_provide_and_register`` of a request saved as text (see ``capture_to_http``)."""
    return parse_provide_and_register(*capture_to_http(data))


# -- building ---------------------------------------------------------------------------


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def soap_envelope(
    action: str,
    body: etree._Element,
    message_id: str | None = None,
    to: str | None = None,
    relates_to: str | None = None,
    security: Iterable[etree._Element] = (),
) -> bytes:
    """A SOAP 1.2 envelope with WS-Addressing headers (Action mustUnderstand) around ``body``."""
    envelope = etree.Element(f"{{{SOAP12_NS}}}Envelope", nsmap={"soap": SOAP12_NS})
    header = etree.SubElement(envelope, f"{{{SOAP12_NS}}}Header")
    action_el = etree.SubElement(header, f"{{{WSA_NS}}}Action", nsmap={None: WSA_NS})
    action_el.set(f"{{{SOAP12_NS}}}mustUnderstand", "true")
    action_el.text = action
    etree.SubElement(header, f"{{{WSA_NS}}}MessageID", nsmap={None: WSA_NS}).text = message_id or new_message_id()
    if to:
        etree.SubElement(header, f"{{{WSA_NS}}}To", nsmap={None: WSA_NS}).text = to
    if relates_to:
        etree.SubElement(header, f"{{{WSA_NS}}}RelatesTo", nsmap={None: WSA_NS}).text = relates_to
    extra = list(security)
    if extra:
        sec = etree.SubElement(header, f"{{{WSSE_NS}}}Security", nsmap={"wsse": WSSE_NS})
        sec.extend(extra)
    etree.SubElement(envelope, f"{{{SOAP12_NS}}}Body").append(body)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def registry_response(status: str, errors: Sequence[tuple[str, str, str]] = ()) -> etree._Element:
    """``rs:RegistryResponse``; errors are (errorCode, codeContext, location)."""
    response = etree.Element(f"{{{RS_NS}}}RegistryResponse", nsmap={"rs": RS_NS}, status=status)
    if errors:
        error_list = etree.SubElement(response, f"{{{RS_NS}}}RegistryErrorList", highestSeverity=ERROR_SEVERITY_ERROR)
        for code, context, location in errors:
            etree.SubElement(
                error_list,
                f"{{{RS_NS}}}RegistryError",
                errorCode=code,
                codeContext=context,
                location=location,
                severity=ERROR_SEVERITY_ERROR,
            )
    return response


def registry_object_xml(obj: RegistryObject | Association) -> etree._Element:
    """Serialise a model object back to ebRIM 3.0 XML (namespace prefix ``rim``)."""
    q = lambda local: f"{{{RIM_NS}}}{local}"  # noqa: E731
    if isinstance(obj, Association):
        el = etree.Element(
            q("Association"),
            nsmap={"rim": RIM_NS},
            associationType=obj.type,
            id=obj.id,
            sourceObject=obj.source,
            targetObject=obj.target,
        )
        _slots_xml(el, obj.slots)
        return el
    tag = "ExtrinsicObject" if isinstance(obj, DocumentEntry) else "RegistryPackage"
    el = etree.Element(q(tag), nsmap={"rim": RIM_NS}, id=obj.id)
    if isinstance(obj, DocumentEntry):
        el.set("mimeType", obj.mime_type)
    if obj.object_type:
        el.set("objectType", obj.object_type)
    if obj.status:
        el.set("status", obj.status)
    _slots_xml(el, obj.slots)
    for child, text in (("Name", obj.name), ("Description", obj.description)):
        if text:
            etree.SubElement(etree.SubElement(el, q(child)), q("LocalizedString"), value=text)
    for c in obj.classifications:
        cl = etree.SubElement(el, q("Classification"), id=c.id or f"urn:uuid:{uuid.uuid4()}")
        if c.scheme:
            cl.set("classificationScheme", c.scheme)
        if c.node:
            cl.set("classificationNode", c.node)
        cl.set("classifiedObject", c.classified_object or obj.id)
        cl.set("nodeRepresentation", c.node_representation)
        slots = dict(c.slots)
        if c.coding_scheme is not None:
            slots["codingScheme"] = [c.coding_scheme]
        _slots_xml(cl, slots)
        if c.display_name:
            etree.SubElement(etree.SubElement(cl, q("Name")), q("LocalizedString"), value=c.display_name)
    for scheme, value in obj.external_identifiers.items():
        etree.SubElement(
            el,
            q("ExternalIdentifier"),
            id=f"urn:uuid:{uuid.uuid4()}",
            identificationScheme=scheme,
            registryObject=obj.id,
            value=value,
        )
    return el


def _slots_xml(parent: etree._Element, slots: dict[str, list[str]]) -> None:
    for name, values in slots.items():
        slot = etree.SubElement(parent, f"{{{RIM_NS}}}Slot", name=name)
        value_list = etree.SubElement(slot, f"{{{RIM_NS}}}ValueList")
        for value in values:
            etree.SubElement(value_list, f"{{{RIM_NS}}}Value").text = value


def submit_objects_xml(objects: Iterable[RegistryObject | Association]) -> etree._Element:
    sor = etree.Element(f"{{{LCM_NS}}}SubmitObjectsRequest", nsmap={"lcm": LCM_NS, "rim": RIM_NS})
    rol = etree.SubElement(sor, f"{{{RIM_NS}}}RegistryObjectList")
    for obj in objects:
        rol.append(registry_object_xml(obj))
    return sor


def provide_and_register_xml(
    objects: Iterable[RegistryObject | Association], documents: dict[str, str | bytes]
) -> etree._Element:
    """``xds-b:ProvideAndRegisterDocumentSetRequest``; a ``str`` document is an xop href, bytes go inline."""
    request = etree.Element(f"{{{XDSB_NS}}}ProvideAndRegisterDocumentSetRequest", nsmap={"xdsb": XDSB_NS})
    request.append(submit_objects_xml(objects))
    for doc_id, content in documents.items():
        doc = etree.SubElement(request, f"{{{XDSB_NS}}}Document", id=doc_id)
        if isinstance(content, str):
            etree.SubElement(doc, f"{{{XOP_NS}}}Include", nsmap={"xop": XOP_NS}, href=content)
        else:
            doc.text = base64.b64encode(content).decode("ascii")
    return request


WSA_FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"


def soap_fault(code: str, reason: str, subcode: str | None = None, relates_to: str | None = None) -> bytes:
    """A SOAP 1.2 Fault envelope; ``code`` is ``Sender``, ``Receiver``, ``VersionMismatch`` ..."""
    envelope = etree.Element(f"{{{SOAP12_NS}}}Envelope", nsmap={"soap": SOAP12_NS, "wsa": WSA_NS})
    header = etree.SubElement(envelope, f"{{{SOAP12_NS}}}Header")
    etree.SubElement(header, f"{{{WSA_NS}}}Action").text = WSA_FAULT_ACTION
    etree.SubElement(header, f"{{{WSA_NS}}}MessageID").text = new_message_id()
    if relates_to:
        etree.SubElement(header, f"{{{WSA_NS}}}RelatesTo").text = relates_to
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP12_NS}}}Body"), f"{{{SOAP12_NS}}}Fault")
    code_el = etree.SubElement(fault, f"{{{SOAP12_NS}}}Code")
    etree.SubElement(code_el, f"{{{SOAP12_NS}}}Value").text = f"soap:{code}"
    if subcode:
        sub = etree.SubElement(code_el, f"{{{SOAP12_NS}}}Subcode")
        etree.SubElement(sub, f"{{{SOAP12_NS}}}Value").text = subcode
    text = etree.SubElement(etree.SubElement(fault, f"{{{SOAP12_NS}}}Reason"), f"{{{SOAP12_NS}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    text.text = reason
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


# -- ITI-18 Registry Stored Query ----------------------------------------------------------

QUERY_FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
QUERY_GET_DOCUMENTS = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
QUERY_FIND_BY_REFERENCE_ID = "urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492"
QUERY_NAMES = {
    QUERY_FIND_DOCUMENTS: "FindDocuments",
    QUERY_GET_DOCUMENTS: "GetDocuments",
    QUERY_FIND_BY_REFERENCE_ID: "FindDocumentsByReferenceId",
}
RETURN_LEAF_CLASS = "LeafClass"
RETURN_OBJECT_REF = "ObjectRef"


def parse_query_values(text: str) -> list[str]:
    """The values of one stored-query ``Value``: ``'a'``, ``('a','b')`` or a bare number."""
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    values = []
    for item in items:
        item = item.strip()
        if len(item) >= 2 and item[0] == item[-1] == "'":
            item = item[1:-1].replace("''", "'")
        if item:
            values.append(item)
    return values


@dataclass
class StoredQuery:
    """An ITI-18 request: ``query:AdhocQueryRequest`` > ``ResponseOption`` + ``rim:AdhocQuery``."""

    soap: SoapMessage
    query_id: str
    return_type: str
    return_composed_objects: bool
    parameters: dict[str, list[list[str]]]  # slot name -> one value list per rim:Value (AND of ORs)

    action = property(lambda self: self.soap.action)
    message_id = property(lambda self: self.soap.message_id)
    assertion = property(lambda self: self.soap.assertion)

    @property
    def query_name(self) -> str:
        return QUERY_NAMES.get(self.query_id, self.query_id)

    def values(self, name: str) -> list[str]:
        """All values of a parameter, flattened (OR semantics)."""
        return [v for group in self.parameters.get(name, []) for v in group]

    def value(self, name: str) -> str | None:
        values = self.values(name)
        return values[0] if values else None


def parse_stored_query(body: bytes, content_type: str) -> StoredQuery:
    soap, request = _soap_body(body, content_type, QUERY_NS, "AdhocQueryRequest")
    option = request.find(f"{{{QUERY_NS}}}ResponseOption")
    query = request.find(f"{{{RIM_NS}}}AdhocQuery")
    if query is None:
        raise XdsParseError("AdhocQueryRequest has no rim:AdhocQuery")
    parameters: dict[str, list[list[str]]] = {}
    for slot in query.findall(f"{{{RIM_NS}}}Slot"):
        groups = [parse_query_values(v.text or "") for v in slot.findall(f"{{{RIM_NS}}}ValueList/{{{RIM_NS}}}Value")]
        parameters.setdefault(slot.get("name", ""), []).extend(groups)
    return StoredQuery(
        soap=soap,
        query_id=query.get("id", ""),
        return_type=option.get("returnType", RETURN_OBJECT_REF) if option is not None else RETURN_OBJECT_REF,
        return_composed_objects=(option is not None and option.get("returnComposedObjects", "false").lower() == "true"),
        parameters=parameters,
    )


def stored_query_xml(
    query_id: str,
    parameters: dict[str, str | Sequence[str] | Sequence[Sequence[str]]],
    return_type: str = RETURN_LEAF_CLASS,
    return_composed_objects: bool = True,
) -> etree._Element:
    """``query:AdhocQueryRequest``; a str is one quoted value, a list one ``('a','b')`` Value, a list of lists several Values."""
    request = etree.Element(f"{{{QUERY_NS}}}AdhocQueryRequest", nsmap={"query": QUERY_NS, "rim": RIM_NS})
    etree.SubElement(
        request,
        f"{{{QUERY_NS}}}ResponseOption",
        returnComposedObjects="true" if return_composed_objects else "false",
        returnType=return_type,
    )
    query = etree.SubElement(request, f"{{{RIM_NS}}}AdhocQuery", id=query_id)
    quote = lambda v: "'" + v.replace("'", "''") + "'"  # noqa: E731
    for name, value in parameters.items():
        slot = etree.SubElement(query, f"{{{RIM_NS}}}Slot", name=name)
        value_list = etree.SubElement(slot, f"{{{RIM_NS}}}ValueList")
        if isinstance(value, str):
            texts = [quote(value)]
        elif value and not isinstance(value[0], str):
            texts = ["(" + ",".join(quote(v) for v in group) + ")" for group in value]  # type: ignore[union-attr]
        else:
            texts = ["(" + ",".join(quote(v) for v in value) + ")"]  # type: ignore[arg-type]
        for text in texts:
            etree.SubElement(value_list, f"{{{RIM_NS}}}Value").text = text
    return request


def adhoc_query_response(
    status: str,
    objects: Sequence[RegistryObject | Association] = (),
    object_refs: Sequence[str] = (),
    errors: Sequence[tuple[str, str, str]] = (),
) -> etree._Element:
    """``query:AdhocQueryResponse`` with LeafClass objects or ObjectRefs; errors are (errorCode, codeContext, location)."""
    response = etree.Element(f"{{{QUERY_NS}}}AdhocQueryResponse", nsmap={"query": QUERY_NS, "rim": RIM_NS, "rs": RS_NS}, status=status)
    if errors:
        response.append(registry_response(status, errors).find(f"{{{RS_NS}}}RegistryErrorList"))
    rol = etree.SubElement(response, f"{{{RIM_NS}}}RegistryObjectList")
    for obj in objects:
        rol.append(registry_object_xml(obj))
    for ref in object_refs:
        etree.SubElement(rol, f"{{{RIM_NS}}}ObjectRef", id=ref)
    return response


@dataclass
class QueryResponse:
    status: str
    document_entries: list[DocumentEntry]
    object_refs: list[str]
    errors: list[tuple[str, str, str]]  # (errorCode, codeContext, location)


def _registry_errors(parent: etree._Element) -> list[tuple[str, str, str]]:
    return [
        (e.get("errorCode", ""), e.get("codeContext", ""), e.get("location", ""))
        for e in parent.iterfind(f".//{{{RS_NS}}}RegistryError")
    ]


def parse_query_response(body: bytes, content_type: str) -> QueryResponse:
    """An ITI-18 response (plain SOAP or MTOM) as its status, DocumentEntries, ObjectRefs and errors."""
    soap, response = _soap_body(body, content_type, QUERY_NS, "AdhocQueryResponse")
    entries: list[DocumentEntry] = []
    refs: list[str] = []
    rol = response.find(f"{{{RIM_NS}}}RegistryObjectList")
    for el in rol if rol is not None else ():
        if el.tag == f"{{{RIM_NS}}}ExtrinsicObject":
            entry = DocumentEntry(mime_type=el.get("mimeType", ""))
            _fill(entry, el)
            entries.append(entry)
        elif el.tag == f"{{{RIM_NS}}}ObjectRef":
            refs.append(el.get("id", ""))
    return QueryResponse(response.get("status", ""), entries, refs, _registry_errors(response))


# -- ITI-43 Retrieve Document Set ------------------------------------------------------------


@dataclass(frozen=True)
class DocumentRequest:
    repository_unique_id: str
    document_unique_id: str
    home_community_id: str = ""


@dataclass
class RetrieveRequest:
    soap: SoapMessage
    documents: list[DocumentRequest]

    action = property(lambda self: self.soap.action)
    message_id = property(lambda self: self.soap.message_id)
    assertion = property(lambda self: self.soap.assertion)


def parse_retrieve_request(body: bytes, content_type: str) -> RetrieveRequest:
    soap, request = _soap_body(body, content_type, XDSB_NS, "RetrieveDocumentSetRequest")
    text = lambda el, name: (el.findtext(f"{{{XDSB_NS}}}{name}") or "").strip()  # noqa: E731
    documents = [
        DocumentRequest(text(d, "RepositoryUniqueId"), text(d, "DocumentUniqueId"), text(d, "HomeCommunityId"))
        for d in request.findall(f"{{{XDSB_NS}}}DocumentRequest")
    ]
    return RetrieveRequest(soap, documents)


def retrieve_request_xml(documents: Iterable[DocumentRequest]) -> etree._Element:
    request = etree.Element(f"{{{XDSB_NS}}}RetrieveDocumentSetRequest", nsmap={"xdsb": XDSB_NS})
    for doc in documents:
        el = etree.SubElement(request, f"{{{XDSB_NS}}}DocumentRequest")
        if doc.home_community_id:
            etree.SubElement(el, f"{{{XDSB_NS}}}HomeCommunityId").text = doc.home_community_id
        etree.SubElement(el, f"{{{XDSB_NS}}}RepositoryUniqueId").text = doc.repository_unique_id
        etree.SubElement(el, f"{{{XDSB_NS}}}DocumentUniqueId").text = doc.document_unique_id
    return request


@dataclass(frozen=True)
class RetrievedDocument:
    repository_unique_id: str
    document_unique_id: str
    mime_type: str
    content: bytes | str  # bytes, or the xop href (cid:...) when building a response


def retrieve_response_xml(
    status: str, documents: Sequence[RetrievedDocument], errors: Sequence[tuple[str, str, str]] = ()
) -> etree._Element:
    """``xds-b:RetrieveDocumentSetResponse``; a ``str`` content is an xop href, bytes go inline (base64)."""
    response = etree.Element(f"{{{XDSB_NS}}}RetrieveDocumentSetResponse", nsmap={"xdsb": XDSB_NS})
    response.append(registry_response(status, errors))
    for doc in documents:
        el = etree.SubElement(response, f"{{{XDSB_NS}}}DocumentResponse")
        etree.SubElement(el, f"{{{XDSB_NS}}}RepositoryUniqueId").text = doc.repository_unique_id
        etree.SubElement(el, f"{{{XDSB_NS}}}DocumentUniqueId").text = doc.document_unique_id
        etree.SubElement(el, f"{{{XDSB_NS}}}mimeType").text = doc.mime_type
        content = etree.SubElement(el, f"{{{XDSB_NS}}}Document")
        if isinstance(doc.content, str):
            etree.SubElement(content, f"{{{XOP_NS}}}Include", nsmap={"xop": XOP_NS}, href=doc.content)
        else:
            content.text = base64.b64encode(doc.content).decode("ascii")
    return response


@dataclass
class RetrieveResponse:
    status: str
    documents: list[RetrievedDocument]  # content resolved to bytes
    errors: list[tuple[str, str, str]]
    mtom: bool


def parse_retrieve_response(body: bytes, content_type: str) -> RetrieveResponse:
    """An ITI-43 response (MTOM with xop:Include, or inline base64) with each document's bytes."""
    soap, response = _soap_body(body, content_type, XDSB_NS, "RetrieveDocumentSetResponse")
    registry = response.find(f"{{{RS_NS}}}RegistryResponse")
    documents = []
    for el in response.findall(f"{{{XDSB_NS}}}DocumentResponse"):
        text = lambda name: (el.findtext(f"{{{XDSB_NS}}}{name}") or "").strip()  # noqa: E731
        doc = el.find(f"{{{XDSB_NS}}}Document")
        include = doc.find(f"{{{XOP_NS}}}Include") if doc is not None else None
        try:
            if include is not None:
                if soap.mtom is None:
                    raise XdsParseError("xop:Include in a response that is not MTOM")
                data = soap.mtom.resolve_xop(include.get("href") or "")
            else:
                data = base64.b64decode("".join(((doc.text if doc is not None else "") or "").split()), validate=True)
        except (MimeError, binascii.Error, ValueError) as exc:
            raise XdsParseError(f"document {text('DocumentUniqueId')} cannot be read: {exc}") from None
        documents.append(RetrievedDocument(text("RepositoryUniqueId"), text("DocumentUniqueId"), text("mimeType"), data))
    return RetrieveResponse(
        registry.get("status", "") if registry is not None else "",
        documents,
        _registry_errors(response),
        soap.mtom is not None,
    )
