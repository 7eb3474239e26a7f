"""Writing the model of :mod:`drimva.xds.model` as XDS.b XML: SOAP 1.2 / WS-Addressing envelopes,
ebRIM metadata, registry responses and SOAP faults (the DMP simulator's answers, the reference's
requests, tests). Pure.
"""

from __future__ import annotations

import base64
import uuid
from typing import Iterable, Sequence

from lxml import etree

from drimva.xds.model import (
    Association,
    DocumentEntry,
    DocumentRequest,
    ERROR_SEVERITY_ERROR,
    LCM_NS,
    QUERY_NS,
    RETURN_LEAF_CLASS,
    RIM_NS,
    RS_NS,
    RegistryObject,
    RetrievedDocument,
    SOAP12_NS,
    WSA_NS,
    WSSE_NS,
    XDSB_NS,
    XOP_NS,
)


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


def retrieve_request_xml(documents: Iterable[DocumentRequest]) -> etree._Element:
    request = etree.Element(f"{{{XDSB_NS}}}RetrieveDocumentSetRequest", nsmap={"xdsb": XDSB_NS})
    for doc in documents:
        el = etree.SubElement(request, f"{{{XDSB_NS}}}DocumentRequest")
        if doc.home_community_id:
            etree.SubElement(el, f"{{{XDSB_NS}}}HomeCommunityId").text = doc.home_community_id
        etree.SubElement(el, f"{{{XDSB_NS}}}RepositoryUniqueId").text = doc.repository_unique_id
        etree.SubElement(el, f"{{{XDSB_NS}}}DocumentUniqueId").text = doc.document_unique_id
    return request


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
