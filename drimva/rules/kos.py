"""Rules on the DICOM KOS manifest a DRIMbox Source publishes (VA-B2, VA-B3).

Two entry points share one checker:

- ``check_kos_structure`` judges a KOS on its own (offline ``validate``):
  IOD, title, template, evidence tree, retrieve locations, request block;
- ``check_kos`` adds what the harness knows: the patient's INS, the study
  the PACS holds (UIDs, SOP classes, date and time), the accession and order
  of the CR, and the SUT's WADO-RS base URL.

Sources: DICOM PS3.3 A.35.4 / C.17.6 / C.17.3, PS3.16 TID 2010 / CID 7010,
the financing annex AF-IMG-DB-Va2 §1.2 (triplets, and per series a Location
UID and URL), and the DRIM-M conventions seen in the ANS samples
(``kos-manifest.md``). Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import UID

from drimva.context import INS_OIDS, KOS_SOP_CLASS, Patient, ReportContext, RuleOptions, SutEndpoints
from drimva.dicom_flat import FlatReadError, Node, Part10, node_of_dataset, read_part10
from drimva.findings import Finding, FindingList, Severity

INS_ISSUER = "ASIP-SANTE-INS-NIR"
TITLE = ("113030", "DCM", "Manifest")
TEMPLATE = ("DCMR", "2010")
LITTLE_ENDIAN_SYNTAXES = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}

A35_4 = "PS3.3 A.35.4 Key Object Selection Document IOD"
C17_6_1 = "PS3.3 C.17.6.1 Key Object Document Series"
C17_6_2 = "PS3.3 C.17.6.2 Key Object Document (Current Requested Procedure Evidence)"
C17_3 = "PS3.3 C.17.3 SR Document Content"
TID_2010 = "PS3.16 TID 2010 Key Object Selection, CID 7010"
ANNEX = "AF-IMG-DB-Va2 §1.2 (KOS: triplets; per series the Location UID and the URL)"
SAMPLES = "DRIM-M KOS convention (ANS samples, kos-manifest.md §3)"
TRAITS = SAMPLES + ": PatientName (birth name ^ first given name), PatientBirthDate and PatientSex from the CR, whatever the PACS holds"
VALUE_TYPES = ("PS3.3 C.18.4 content item value types (IMAGE: an image; COMPOSITE: an object that is neither an "
               "image nor a waveform), PS3.16 TID 2010; the KOS content tree, kos-manifest.md §6")
PART10 = "PS3.10 §7 DICOM File Format; IHE RAD-68 (manifest sent as DICOM Part 10)"

NOTE_LOCATION_UID = (
    "required by the financing annex's definition of the KOS; the ANS samples and the ANS demonstrator's "
    "KOS carry only RetrieveURL, so they depart from the annex here (where-sources-disagree.md)"
)
NOTE_SWITCH = "downgraded to a warning because the SUT profile sets rules.require_retrieve_location_uid = false"
NOTE_TEMPLATE = "absent from every ANS sample and from the demonstrator's KOS (kos-manifest.md open question 2)"
NOTE_MEANING = "the ANS demonstrator writes MANIFEST; CID 7010 gives 'Manifest'"

_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_INS = re.compile(r"^[0-9]{15}$")
_CONTENT_VALUE_TYPES = {"TEXT", "CODE", "UIDREF", "PNAME", "COMPOSITE", "IMAGE", "WAVEFORM", "CONTAINER"}
_ALLOWED_CHILDREN = {
    "CONTAINS": {"TEXT", "IMAGE", "WAVEFORM", "COMPOSITE"},
    "HAS OBS CONTEXT": {"TEXT", "CODE", "UIDREF", "PNAME"},
    "HAS CONCEPT MOD": {"CODE"},
}
_REFERENCE_TYPES = {"IMAGE", "COMPOSITE", "WAVEFORM"}
_NOT_IMAGES = ("Presentation State", "SR Storage", "Key Object Selection", "Encapsulated", "Raw Data")


Kos = bytes | Dataset | Part10  # a Part-10 file, a data set, or a file the flat reader has read


def check_kos_structure(kos: Kos, options: RuleOptions) -> list[Finding]:
    """Judge a KOS without context: what any DRIM-M manifest must hold."""
    return _KosChecker(options).run(kos)


def check_kos(kos: Kos, ctx: ReportContext, endpoints: SutEndpoints, options: RuleOptions) -> list[Finding]:
    """Judge a KOS against the CR the harness sent and the study its PACS holds."""
    return _KosChecker(options, ctx, endpoints).run(kos)


@functools.cache
def _label(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})" if tag is not None else keyword


def tag_path(*parts: str | int) -> str:
    """``tag_path("CurrentRequestedProcedureEvidenceSequence", 0, "ReferencedSeriesSequence", 1, "RetrieveURL")``
    -> ``(0040,A375)[0]>(0008,1115)[1]>(0008,1190)``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += (">" if text else "") + _label(part)
    return text


@dataclass(frozen=True)
class _Ref:
    study: str
    series: str
    instance: str
    sop_class: str
    location: str  # path of the ReferencedSOPSequence item


@functools.cache
def _tag(keyword: str) -> int:
    """The tag of a keyword, looked up once: pydicom's keyword lookups were a third of a KOS's judging time."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return int(tag)


def _has(node: Node | None, keyword: str) -> bool:
    return node is not None and _tag(keyword) in node


def _value(node: Node | None, keyword: str) -> str | None:
    """The attribute as text, ``""`` when present and empty, ``None`` when absent."""
    if node is None:
        return None
    value = node.get(_tag(keyword))
    if isinstance(value, list):
        return "(a sequence)"
    return value


def _items(node: Node | None, keyword: str) -> list[Node]:
    """The items of a sequence attribute; none when absent or not a sequence."""
    value = node.get(_tag(keyword)) if node is not None else None
    return value if isinstance(value, list) else []


@functools.lru_cache(maxsize=1024)
def _is_storage_class(uid: str) -> bool:
    """A standard storage SOP class (a KOS names a handful, thousands of times over in an export)."""
    known = UID(uid)
    return known.keyword != "" and "Storage" in known.name


@functools.lru_cache(maxsize=1024)
def _value_types_of(sop_class: str) -> tuple[str, ...]:
    """The content item value types that may reference an instance of ``sop_class`` (PS3.3 C.18.4): IMAGE for an
    ``… Image Storage`` class, COMPOSITE for an object without pixels (presentation state, SR, KOS, encapsulated
    document, raw data), WAVEFORM or COMPOSITE for a waveform, IMAGE or COMPOSITE for the others (segmentation,
    parametric map, RT dose: pixel data, but not named images); () for a class pydicom does not know (not judged)."""
    if not _is_storage_class(sop_class):
        return ()
    name = UID(sop_class).name
    if "Image Storage" in name:
        return ("IMAGE",)
    if any(family in name for family in _NOT_IMAGES):
        return ("COMPOSITE",)
    if "Waveform" in name:
        return ("WAVEFORM", "COMPOSITE")
    return ("IMAGE", "COMPOSITE")


def _normal_time(value: str) -> str:
    """TM values compare equal when they name the same instant: '194622.3' == '194622.300000'."""
    main, _, fraction = value.strip().partition(".")
    return main.ljust(6, "0") + "." + fraction.ljust(6, "0")


class _KosChecker:
    def __init__(
        self,
        options: RuleOptions,
        ctx: ReportContext | None = None,
        endpoints: SutEndpoints | None = None,
    ) -> None:
        self.options = options
        self.ctx = ctx
        self.endpoints = endpoints
        self.out = FindingList()

    # -- entry ------------------------------------------------------------
    def run(self, kos: Kos) -> list[Finding]:
        ds = self._parse(kos)
        if ds is None:
            return self.out.items
        try:
            self._document(ds)
            self._patient(ds)
            self._study(ds)
            refs = self._evidence(ds)
            self._against_pacs(ds, refs)
            self._content(ds, refs)
            self._request(ds)
        except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # pydicom reads elements lazily: a truncated or corrupt file fails while a rule reads it
            self.out.add("KOS-PART10", PART10, "(file)", "a readable DICOM Part-10 file", f"unreadable: {type(exc).__name__}: {exc}")
        return self.out.items

    def _parse(self, kos: Kos) -> Node | None:
        if isinstance(kos, Dataset):
            return node_of_dataset(kos)
        if isinstance(kos, Part10):
            part10 = kos
        else:
            try:
                part10 = read_part10(kos)
            except FlatReadError as exc:
                self.out.add("KOS-PART10", PART10, "(file)", "a readable DICOM Part-10 file", f"unreadable: {exc}")
                return None
        ds = part10.dataset
        if not (_has(ds, "SOPClassUID") and _has(ds, "SOPInstanceUID")):
            self.out.add("KOS-PART10", PART10, "(file)", "a readable DICOM Part-10 file",
                         "unreadable: no SOP Class / SOP Instance UID could be read")
            return None
        self._part10(part10)
        return ds

    # -- Part 10 ----------------------------------------------------------
    def _part10(self, part10: Part10) -> None:
        out = self.out
        ds, meta = part10.dataset, part10.meta
        if not part10.has_prefix:
            out.add("KOS-PART10", PART10, "preamble", "128-byte preamble then 'DICM'", "no 'DICM' prefix at byte 128")
        if not _has(meta, "TransferSyntaxUID"):
            out.add("KOS-PART10", PART10, "(0002,0010)", "file meta information with a TransferSyntaxUID", None)
            return
        out.check_equal("KOS-PART10", PART10, "(0002,0002)", _value(ds, "SOPClassUID"), _value(meta, "MediaStorageSOPClassUID"))
        out.check_equal("KOS-PART10", PART10, "(0002,0003)", _value(ds, "SOPInstanceUID"), _value(meta, "MediaStorageSOPInstanceUID"))
        syntax = _value(meta, "TransferSyntaxUID")
        if syntax not in LITTLE_ENDIAN_SYNTAXES:
            out.add(
                "KOS-PART10", PART10, "(0002,0010)", "Implicit or Explicit VR Little Endian", syntax, Severity.WARNING,
                note="every DRIM-M sample is Implicit VR LE (kos-manifest.md open question 6)",
            )

    # -- IOD, title, template ----------------------------------------------
    def _document(self, ds: Node) -> None:
        out = self.out
        out.check_equal("KOS-SOP-CLASS", A35_4, tag_path("SOPClassUID"), KOS_SOP_CLASS, _value(ds, "SOPClassUID"))
        out.check_equal("KOS-MODALITY", C17_6_1, tag_path("Modality"), "KO", _value(ds, "Modality"))
        titles = _items(ds, "ConceptNameCodeSequence")
        if len(titles) != 1:
            out.add("KOS-TITLE", TID_2010, tag_path("ConceptNameCodeSequence"), "one item (113030, DCM, Manifest)", f"{len(titles)} items")
        else:
            title = titles[0]
            code = (_value(title, "CodeValue"), _value(title, "CodingSchemeDesignator"))
            out.check_equal("KOS-TITLE", TID_2010, tag_path("ConceptNameCodeSequence", 0, "CodeValue"), "113030 / DCM", f"{code[0]} / {code[1]}")
            meaning = _value(title, "CodeMeaning") or ""
            location = tag_path("ConceptNameCodeSequence", 0, "CodeMeaning")
            if meaning.lower() != TITLE[2].lower():
                out.add("KOS-TITLE", TID_2010, location, TITLE[2], meaning)
            elif meaning != TITLE[2]:
                out.add("KOS-TITLE", TID_2010, location, TITLE[2], meaning, Severity.WARNING, NOTE_MEANING)
        out.check_equal("KOS-CONTAINER", C17_3, tag_path("ValueType"), "CONTAINER", _value(ds, "ValueType"))
        out.check_equal("KOS-CONTAINER", TID_2010, tag_path("ContinuityOfContent"), "SEPARATE", _value(ds, "ContinuityOfContent"))
        templates = _items(ds, "ContentTemplateSequence")
        location = tag_path("ContentTemplateSequence")
        if not templates:
            out.add("KOS-TEMPLATE", TID_2010, location, "DCMR / 2010", None, Severity.WARNING, NOTE_TEMPLATE)
        else:
            found = (_value(templates[0], "MappingResource"), _value(templates[0], "TemplateIdentifier"))
            out.check_equal("KOS-TEMPLATE", TID_2010, location + "[0]", "DCMR / 2010", f"{found[0]} / {found[1]}")

    # -- patient ------------------------------------------------------------
    def _patient(self, ds: Node) -> None:
        out = self.out
        requirement = SAMPLES + ": PatientID is the INS, issuer ASIP-SANTE-INS-NIR with the INS OID"
        patient_id = _value(ds, "PatientID")
        if self.ctx is not None:
            out.check_equal("KOS-PATIENT-ID", requirement, tag_path("PatientID"), self.ctx.patient.ins, patient_id)
        elif not _INS.match(patient_id or ""):
            out.add("KOS-PATIENT-ID", requirement, tag_path("PatientID"), "a 15-digit INS matricule", patient_id)
        issuer = _value(ds, "IssuerOfPatientID")
        if not issuer:
            out.add("KOS-PATIENT-ISSUER", requirement, tag_path("IssuerOfPatientID"), INS_ISSUER, issuer)
        elif issuer != INS_ISSUER:
            out.add("KOS-PATIENT-ISSUER", requirement, tag_path("IssuerOfPatientID"), INS_ISSUER, issuer, Severity.WARNING,
                    note="another wording of the INS issuer; the OID in the qualifiers is what identifies it")
        if self.ctx is not None:
            self._traits(ds, self.ctx.patient)
        qualifiers = _items(ds, "IssuerOfPatientIDQualifiersSequence")
        base = tag_path("IssuerOfPatientIDQualifiersSequence")
        if not qualifiers:
            out.add("KOS-PATIENT-ISSUER", requirement, base, "one item with the INS OID (ISO)", None)
            return
        oid = _value(qualifiers[0], "UniversalEntityID")
        oid_location = tag_path("IssuerOfPatientIDQualifiersSequence", 0, "UniversalEntityID")
        if self.ctx is not None:
            out.check_equal("KOS-PATIENT-ISSUER", requirement, oid_location, self.ctx.patient.ins_oid, oid)
        elif oid not in INS_OIDS:
            out.add("KOS-PATIENT-ISSUER", requirement, oid_location, f"an INS OID {sorted(INS_OIDS)}", oid)
        out.check_equal("KOS-PATIENT-ISSUER", requirement, tag_path("IssuerOfPatientIDQualifiersSequence", 0, "UniversalEntityIDType"), "ISO", _value(qualifiers[0], "UniversalEntityIDType"))

    def _traits(self, ds: Node, patient: Patient) -> None:
        """The patient's traits of the CR (its INS identity), not the PACS's: PatientName = birth name ^ first given
        name (a PN compared without regard to case), PatientBirthDate and PatientSex as the CR sends them."""
        out, requirement = self.out, TRAITS
        name = _value(ds, "PatientName")
        if patient.birth_name:
            family, _, rest = (name or "").partition("^")
            given = rest.split("^", 1)[0].split(" ", 1)[0]
            first = patient.given_name.split(" ", 1)[0]
            if family.strip().upper() != patient.birth_name.upper() or (first and given.strip().upper() != first.upper()):
                out.add("KOS-PATIENT-TRAITS", requirement, tag_path("PatientName"), f"{patient.birth_name}^{first}", name)
        if patient.birth_date:
            out.check_equal("KOS-PATIENT-TRAITS", requirement, tag_path("PatientBirthDate"), patient.birth_date, _value(ds, "PatientBirthDate"))
        if patient.sex:
            out.check_equal("KOS-PATIENT-TRAITS", requirement, tag_path("PatientSex"), patient.sex, _value(ds, "PatientSex"))

    # -- study ----------------------------------------------------------------
    def _study(self, ds: Node) -> None:
        study = _value(ds, "StudyInstanceUID")
        requirement = SAMPLES + ": StudyInstanceUID = the Study UID of the CR (serviceEvent/id/@root)"
        if self.ctx is not None:
            self.out.check_equal("KOS-STUDY-UID", requirement, tag_path("StudyInstanceUID"), self.ctx.study_uid, study)
        elif not _UID.match(study or ""):
            self.out.add("KOS-STUDY-UID", A35_4, tag_path("StudyInstanceUID"), "a valid UID", study)
        if self.ctx is None:
            return
        requirement = "VA-B2: study metadata received from the PACS (C-FIND); StudyDate/StudyTime copied from it"
        if self.ctx.study_date:
            self.out.check_equal("KOS-STUDY-FROM-PACS", requirement, tag_path("StudyDate"), self.ctx.study_date, _value(ds, "StudyDate"))
        if self.ctx.study_time:
            found = _value(ds, "StudyTime")
            if found is None or _normal_time(found) != _normal_time(self.ctx.study_time):
                self.out.add("KOS-STUDY-FROM-PACS", requirement, tag_path("StudyTime"), self.ctx.study_time, found)

    # -- evidence ---------------------------------------------------------------
    def _evidence(self, ds: Node) -> list[_Ref]:
        out = self.out
        study_uid = _value(ds, "StudyInstanceUID")
        studies = _items(ds, "CurrentRequestedProcedureEvidenceSequence")
        refs: list[_Ref] = []
        if not studies:
            out.add("KOS-EVIDENCE-COMPLETE", C17_6_2, tag_path("CurrentRequestedProcedureEvidenceSequence"), "at least one study item", None)
            return refs
        for s, study_item in enumerate(studies):
            here = ("CurrentRequestedProcedureEvidenceSequence", s)
            evidence_study = _value(study_item, "StudyInstanceUID")
            expected_study = self.ctx.study_uid if self.ctx is not None else study_uid
            out.check_equal("KOS-STUDY-UID", C17_6_2 + "; one KOS per study (kos-manifest.md open question 7)",
                            tag_path(*here, "StudyInstanceUID"), expected_study, evidence_study)
            series_items = _items(study_item, "ReferencedSeriesSequence")
            if not series_items:
                out.add("KOS-EVIDENCE-COMPLETE", C17_6_2, tag_path(*here, "ReferencedSeriesSequence"), "at least one series item", None)
            for r, series_item in enumerate(series_items):
                series_here = (*here, "ReferencedSeriesSequence", r)
                series = _value(series_item, "SeriesInstanceUID") or ""
                if not _UID.match(series):
                    out.add("KOS-EVIDENCE-COMPLETE", C17_6_2, tag_path(*series_here, "SeriesInstanceUID"), "a valid UID", series)
                self._retrieve(series_item, series_here, evidence_study or "", series)
                sops = _items(series_item, "ReferencedSOPSequence")
                if not sops:
                    out.add("KOS-EVIDENCE-COMPLETE", C17_6_2, tag_path(*series_here, "ReferencedSOPSequence"), "at least one instance", None)
                for i, sop in enumerate(sops):
                    location = tag_path(*series_here, "ReferencedSOPSequence", i)
                    sop_class = _value(sop, "ReferencedSOPClassUID") or ""
                    instance = _value(sop, "ReferencedSOPInstanceUID") or ""
                    refs.append(_Ref(evidence_study or "", series, instance, sop_class, location))
                    self._sop_class_known(sop_class, location + ">(0008,1150)")
        return refs

    def _sop_class_known(self, sop_class: str, location: str) -> None:
        if not sop_class:
            self.out.add("KOS-SOP-CLASSES", C17_6_2, location, "a Storage SOP Class UID", sop_class)
        elif not _is_storage_class(sop_class):
            self.out.add("KOS-SOP-CLASSES", C17_6_2, location, "a known Storage SOP Class UID", sop_class, Severity.WARNING,
                         note="not a standard storage SOP class (private classes are possible)")

    def _retrieve(self, item: Node, here: tuple[Any, ...], study: str, series: str) -> None:
        out = self.out
        url = _value(item, "RetrieveURL")
        location = tag_path(*here, "RetrieveURL")
        suffix = f"/studies/{study}/series/{series}"
        requirement = ANNEX + "; PS3.18 §10.4 series retrieve URL on the source DRIMbox"
        if self.endpoints is not None:
            out.check_equal("KOS-RETRIEVE-URL", requirement, location, self.endpoints.wado_base_url.rstrip("/") + suffix, url)
        elif not url or not url.endswith(suffix) or not re.match(r"^https?://", url):
            out.add("KOS-RETRIEVE-URL", requirement, location, f"an http(s) URL ending in {suffix}", url)
        location_uid = _value(item, "RetrieveLocationUID")
        location = tag_path(*here, "RetrieveLocationUID")
        if not location_uid:
            if self.options.require_retrieve_location_uid:
                out.add("KOS-RETRIEVE-LOCATION-UID", ANNEX, location, "a Retrieve Location UID", location_uid, note=NOTE_LOCATION_UID)
            else:
                out.add("KOS-RETRIEVE-LOCATION-UID", ANNEX, location, "a Retrieve Location UID", location_uid, Severity.WARNING,
                        note=NOTE_SWITCH + "; " + NOTE_LOCATION_UID)
        elif not _UID.match(location_uid):
            out.add("KOS-RETRIEVE-LOCATION-UID", ANNEX, location, "a valid UID", location_uid)
        elif self.endpoints is not None and self.endpoints.retrieve_location_uid:
            out.check_equal("KOS-RETRIEVE-LOCATION-UID", ANNEX + "; value named in the SUT profile", location,
                            self.endpoints.retrieve_location_uid, location_uid)

    # -- evidence against the PACS study ------------------------------------------------
    def _against_pacs(self, ds: Node, refs: list[_Ref]) -> None:
        if self.ctx is None:
            return
        out = self.out
        requirement = ANNEX + "; every instance the PACS holds for the study, as triplets (VA-B2)"
        found = {ref.instance: ref for ref in refs}
        expected = {ref.sop_instance_uid: ref for ref in self.ctx.instances}
        series_location = self._series_locations(ds)
        for uid, want in expected.items():
            got = found.get(uid)
            if got is None and self.options.kos_non_image == "may_leave_out" and _value_types_of(want.sop_class_uid) == ("COMPOSITE",):
                continue  # rules.kos_non_image: a presentation state, an SR… may be left out (open question 3)
            if got is None:
                location = series_location.get(want.series_uid, tag_path("CurrentRequestedProcedureEvidenceSequence"))
                out.add("KOS-EVIDENCE-COMPLETE", requirement, location + ">(0008,1199)",
                        f"{want.study_uid} / {want.series_uid} / {uid}", "(missing)")
                continue
            if (got.study, got.series) != (want.study_uid, want.series_uid):
                out.add("KOS-EVIDENCE-COMPLETE", requirement, got.location,
                        f"{want.study_uid} / {want.series_uid} / {uid}", f"{got.study} / {got.series} / {uid}")
            out.check_equal("KOS-SOP-CLASSES", C17_6_2 + "; SOP class of the instance in the PACS",
                            got.location + ">(0008,1150)", want.sop_class_uid, got.sop_class)
        for uid, got in found.items():
            if uid not in expected:
                out.add("KOS-EVIDENCE-EXTRA", requirement + "; no instance the PACS does not hold", got.location,
                        "(not referenced)", f"{got.study} / {got.series} / {uid}")

    @staticmethod
    def _series_locations(ds: Node) -> dict[str, str]:
        where: dict[str, str] = {}
        for s, study_item in enumerate(_items(ds, "CurrentRequestedProcedureEvidenceSequence")):
            for r, series_item in enumerate(_items(study_item, "ReferencedSeriesSequence")):
                series = _value(series_item, "SeriesInstanceUID") or ""
                where.setdefault(series, tag_path("CurrentRequestedProcedureEvidenceSequence", s, "ReferencedSeriesSequence", r))
        return where

    # -- content tree ---------------------------------------------------------------
    def _content(self, ds: Node, refs: list[_Ref]) -> None:
        out = self.out
        evidence = {(ref.sop_class, ref.instance) for ref in refs}
        referenced: set[str] = set()
        self._walk(ds, tag_path("ContentSequence"), "CONTAINER", evidence, referenced, depth=0)
        for ref in refs:
            if ref.instance not in referenced:
                out.add("KOS-CONTENT-IN-EVIDENCE", SAMPLES + ": every evidence instance is also listed in the content tree",
                        ref.location, "an IMAGE/COMPOSITE item referencing it", "(not in ContentSequence)", Severity.WARNING,
                        note="DICOM only requires the content to be a subset of the evidence (kos-manifest.md §9.4)")

    def _walk(self, parent: Node, base: str, parent_type: str, evidence: set[tuple[str, str]], referenced: set[str], depth: int) -> None:
        out = self.out
        for n, item in enumerate(_items(parent, "ContentSequence")):
            here = f"{base}[{n}]"
            value_type = _value(item, "ValueType") or ""
            relationship = _value(item, "RelationshipType") or ""
            if _has(item, "ReferencedContentItemIdentifier"):
                out.add("KOS-CONTENT-TREE", A35_4 + ": relationships by value only", here + ">(0040,DB73)",
                        "(absent)", _value(item, "ReferencedContentItemIdentifier"))
            if value_type not in _CONTENT_VALUE_TYPES:
                out.add("KOS-CONTENT-TREE", A35_4 + ": value types", here + ">(0040,A040)", sorted(_CONTENT_VALUE_TYPES), value_type)
            elif parent_type == "CONTAINER" and value_type not in _ALLOWED_CHILDREN.get(relationship, set()):
                out.add("KOS-CONTENT-TREE", A35_4 + ": relationship constraints", here + ">(0040,A010)",
                        f"CONTAINER {relationship or '?'} one of {sorted(_ALLOWED_CHILDREN.get(relationship, set())) or '(no such relationship)'}",
                        value_type)
            if value_type in _REFERENCE_TYPES:
                for k, sop in enumerate(_items(item, "ReferencedSOPSequence")):
                    pair = (_value(sop, "ReferencedSOPClassUID") or "", _value(sop, "ReferencedSOPInstanceUID") or "")
                    referenced.add(pair[1])
                    expected = _value_types_of(pair[0])
                    if expected and value_type not in expected:
                        out.add("KOS-CONTENT-VALUE-TYPE", VALUE_TYPES, here + ">(0040,A040)", " or ".join(expected),
                                f"{value_type} for {UID(pair[0]).name}")
                    if pair not in evidence:
                        out.add("KOS-CONTENT-IN-EVIDENCE", C17_6_2 + ": every content reference is in the evidence",
                                f"{here}>(0008,1199)[{k}]", "listed in (0040,A375) with the same SOP class", f"{pair[0]} / {pair[1]}")
            if depth < 8:
                self._walk(item, here + ">(0040,A730)", value_type, evidence, referenced, depth + 1)

    # -- request ------------------------------------------------------------------
    def _request(self, ds: Node) -> None:
        out = self.out
        requirement = SAMPLES + "; PS3.3 C.17.6.2 (0040,A370): accession and order of the CR"
        requests = _items(ds, "ReferencedRequestSequence")
        top = _value(ds, "AccessionNumber")
        if not requests:
            out.add("KOS-REQUEST-ACCESSION", requirement, tag_path("ReferencedRequestSequence"), "one item with the CR's accession and order", None)
            return
        index = 0
        if self.ctx is not None:
            accessions = [_value(item, "AccessionNumber") for item in requests]
            if self.ctx.accession in accessions:
                index = accessions.index(self.ctx.accession)
            else:
                out.add("KOS-REQUEST-ACCESSION", requirement, tag_path("ReferencedRequestSequence", 0, "AccessionNumber"), self.ctx.accession, accessions)
        item = requests[index]
        accession = _value(item, "AccessionNumber")
        here = ("ReferencedRequestSequence", index)
        if self.ctx is None and not accession:
            out.add("KOS-REQUEST-ACCESSION", requirement, tag_path(*here, "AccessionNumber"), "the accession number", accession)
        self._entity("KOS-REQUEST-ACCESSION", requirement, item, here, "IssuerOfAccessionNumberSequence",
                     self.ctx.accession_issuer if self.ctx else None)
        order = _value(item, "PlacerOrderNumberImagingServiceRequest")
        location = tag_path(*here, "PlacerOrderNumberImagingServiceRequest")
        if self.ctx is not None:
            out.check_equal("KOS-REQUEST-ORDER", requirement, location, self.ctx.order_id, order)
        elif not order:
            out.add("KOS-REQUEST-ORDER", requirement, location, "the placer order number", order)
        self._entity("KOS-REQUEST-ORDER", requirement, item, here, "OrderPlacerIdentifierSequence",
                     self.ctx.order_root if self.ctx else None)
        expected_top = self.ctx.accession if self.ctx is not None else accession
        if top and top != expected_top:
            out.add("KOS-REQUEST-ACCESSION", SAMPLES + ": top-level AccessionNumber empty or the CR accession (open question 4)",
                    tag_path("AccessionNumber"), f"empty or {expected_top}", top)

    def _entity(self, rule: str, requirement: str, item: Node, here: tuple[Any, ...], keyword: str, expected: str | None) -> None:
        entities = _items(item, keyword)
        location = tag_path(*here, keyword, 0, "UniversalEntityID")
        found = _value(entities[0], "UniversalEntityID") if entities else None
        if expected is not None:
            self.out.check_equal(rule, requirement, location, expected, found)
        elif not found:
            self.out.add(rule, requirement, location, "an issuer OID", found)
        if entities:
            self.out.check_equal(rule, requirement, tag_path(*here, keyword, 0, "UniversalEntityIDType"), "ISO",
                                 _value(entities[0], "UniversalEntityIDType"))


PACS_METADATA_RULES = frozenset({
    "KOS-STUDY-FROM-PACS", "KOS-STUDY-UID", "KOS-EVIDENCE-COMPLETE", "KOS-EVIDENCE-EXTRA", "KOS-SOP-CLASSES",
})  # fmt: skip


CONTENT_RULES = frozenset({"KOS-CONTENT-VALUE-TYPE", "KOS-CONTENT-IN-EVIDENCE", "KOS-CONTENT-TREE", "KOS-SOP-CLASSES"})


def check_kos_content(kos: Kos, ctx: ReportContext, endpoints: SutEndpoints, options: RuleOptions) -> list[Finding]:
    """The KOS rules on its references: each instance with its SOP class, in a content item of the right value type."""
    return [f for f in check_kos(kos, ctx, endpoints, options) if f.rule in CONTENT_RULES]


CR_IDENTITY_RULES = frozenset({
    "KOS-PATIENT-ID", "KOS-PATIENT-ISSUER", "KOS-PATIENT-TRAITS", "KOS-REQUEST-ACCESSION", "KOS-REQUEST-ORDER",
})  # fmt: skip


def check_kos_cr_identity(kos: Kos, ctx: ReportContext, endpoints: SutEndpoints, options: RuleOptions) -> list[Finding]:
    """The KOS rules that judge what the DRIMbox took from the CR (the patient's INS identity, accession, order)."""
    return [f for f in check_kos(kos, ctx, endpoints, options) if f.rule in CR_IDENTITY_RULES]


def check_kos_pacs_metadata(kos: Kos, ctx: ReportContext, endpoints: SutEndpoints, options: RuleOptions) -> list[Finding]:
    """VA-B2: the KOS rules that judge what the DRIMbox read from the PACS (study attributes, instances)."""
    return [f for f in check_kos(kos, ctx, endpoints, options) if f.rule in PACS_METADATA_RULES]


def read_oracle_findings(findings: list[Finding], options: RuleOptions) -> list[Finding]:
    """dciodvfy's findings on a KOS, read with the profile: its ``-profile IHEXDSIManifest`` error on a missing
    Retrieve Location UID (0040,E011) is the annex's requirement KOS-RETRIEVE-LOCATION-UID judges, so
    ``rules.require_retrieve_location_uid = false`` makes it a warning too (where-sources-disagree.md: the ANS
    samples and the demonstrator carry only RetrieveURL). Every other finding is kept as it is."""
    if options.require_retrieve_location_uid:
        return findings
    return [
        Finding(f.rule, f.requirement, f.location, f.expected, f.actual, Severity.WARNING, f.source,
                "; ".join(n for n in (f.note, NOTE_SWITCH) if n))
        if f.severity is Severity.ERROR and f.location.endswith("(0040,E011)") and "Missing" in f.actual
        else f
        for f in findings
    ]  # fmt: skip
