"""XDS.b as a model: namespaces, actions, schemes and statuses, and the dataclasses of a request. Pure.

What :mod:`drimva.xds.reader` reads and :mod:`drimva.xds.writer` writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from drimva.mime import MtomMessage

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


@dataclass
class QueryResponse:
    status: str
    document_entries: list[DocumentEntry]
    object_refs: list[str]
    errors: list[tuple[str, str, str]]  # (errorCode, codeContext, location)


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


@dataclass(frozen=True)
class RetrievedDocument:
    repository_unique_id: str
    document_unique_id: str
    mime_type: str
    content: bytes | str  # bytes, or the xop href (cid:...) when building a response


@dataclass
class RetrieveResponse:
    status: str
    documents: list[RetrievedDocument]  # content resolved to bytes
    errors: list[tuple[str, str, str]]
    mtom: bool
