"""Reading XDS.b messages into the model of :mod:`drimva.xds.model`. Pure.

``parse_provide_and_register`` reads an ITI-41 request sent as MTOM/XOP
(multipart/related, ``xop:Include``) or as plain SOAP (inline base64
``Document``); ``parse_update_document_set`` an ITI-57 request;
``parse_capture`` a request saved as text (the demonstrator's
``publication.xml``); ``parse_stored_query`` / ``parse_query_response`` (ITI-18)
and ``parse_retrieve_request`` / ``parse_retrieve_response`` (ITI-43).
Every parse has entities and network access disabled.
"""

from __future__ import annotations

import base64
import binascii
import re

from lxml import etree

from drimva import xmlsafe
from drimva.mime import MimeError, MtomMessage, parse_content_type
from drimva.xds.model import (
    Association,
    Classification,
    DocumentEntry,
    DocumentRequest,
    LCM_NS,
    ProvideAndRegister,
    QUERY_NS,
    QueryResponse,
    RETURN_OBJECT_REF,
    RIM_NS,
    RS_NS,
    RegistryObject,
    RegistryPackage,
    RetrieveRequest,
    RetrieveResponse,
    RetrievedDocument,
    SAML2_NS,
    SOAP11_NS,
    SOAP12_NS,
    SoapMessage,
    StoredQuery,
    SubmitObjects,
    UpdateDocumentSet,
    WSA_NS,
    WSSE_NS,
    XDSB_NS,
    XOP_NS,
)

SAFE_PARSER = xmlsafe.parser()  # re-parsing drimva's own serialisations; untrusted bytes go through parse_xml


class XdsParseError(ValueError):
    """The request is not a readable SOAP / XDS.b message; the message says what is wrong."""


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


def parse_retrieve_request(body: bytes, content_type: str) -> RetrieveRequest:
    soap, request = _soap_body(body, content_type, XDSB_NS, "RetrieveDocumentSetRequest")
    text = lambda el, name: (el.findtext(f"{{{XDSB_NS}}}{name}") or "").strip()  # noqa: E731
    documents = [
        DocumentRequest(text(d, "RepositoryUniqueId"), text(d, "DocumentUniqueId"), text(d, "HomeCommunityId"))
        for d in request.findall(f"{{{XDSB_NS}}}DocumentRequest")
    ]
    return RetrieveRequest(soap, documents)


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
