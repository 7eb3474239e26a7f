"""The KOS manifest (Key Object Selection Document, PS3.3 A.35.4) of one study.

Patient and request come from the CR, the study attributes and the instance
list from the PACS C-FIND. Part-10, Explicit VR Little Endian, ISO_IR 192.
Per series of the evidence: RetrieveURL (series-level WADO-RS URL on this
DRIMbox), RetrieveLocationUID (AF-IMG-DB-Va2 §1.2) and RetrieveAETitle (our AE;
dciodvfy's IHEXDSIManifest profile makes both Type 1). The builder is correct
by construction; faults alter its inputs in the service, never in here
(``include_retrieve_url`` exists only for the ``kos_no_retrieve_url`` fault), or
the finished data set through the ``alter`` hook (``kos_faults.alter``).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from .cda_in import CdaOrder, CdaPatient
from .pacs_client import PacsInstance, PacsStudy

KOS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
INS_ISSUER = "ASIP-SANTE-INS-NIR"
DCMR_UID = "1.2.840.10008.8.1.1"
KO_SERIES_NUMBER = 59  # as in the ANS samples
# SOP class UID prefixes of storage classes that are not images: SR, presentation states, KOS,
# encapsulated documents, raw data, waveforms -> referenced as COMPOSITE.
_NON_IMAGE_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.88.",
    "1.2.840.10008.5.1.4.1.1.11.",
    "1.2.840.10008.5.1.4.1.1.104.",
    "1.2.840.10008.5.1.4.1.1.66",
    "1.2.840.10008.5.1.4.1.1.9.",
    "1.2.840.10008.5.1.4.1.1.481.",
)
_IMAGE_RT = ("1.2.840.10008.5.1.4.1.1.481.1",)  # RT Image is an image


@dataclass(frozen=True)
class KosSettings:
    wado_base_url: str
    retrieve_location_uid: str
    retrieve_ae_title: str
    manufacturer: str = "drimva"
    software_version: str = ""
    include_retrieve_url: bool = True
    implicit_vr: bool = False  # Implicit VR Little Endian, as the DRIM-M samples (variant kos_implicit_vr)
    image_items_only: bool = False  # every reference an IMAGE item, non-image objects too (fault kos_non_image_as_image)


@dataclass(frozen=True)
class KosDocument:
    data: bytes  # Part-10 bytes
    sop_instance_uid: str
    series_uid: str
    instance_number: int


def is_image_sop_class(sop_class_uid: str) -> bool:
    return sop_class_uid in _IMAGE_RT or not sop_class_uid.startswith(_NON_IMAGE_PREFIXES)


def retrieve_url(wado_base_url: str, study_uid: str, series_uid: str) -> str:
    return f"{wado_base_url.rstrip('/')}/studies/{study_uid}/series/{series_uid}"


def build_kos(
    *,
    patient: CdaPatient,
    order: CdaOrder,
    study: PacsStudy,
    settings: KosSettings,
    institution_name: str = "",
    now: dt.datetime | None = None,
    series_uid: str | None = None,
    instance_number: int = 1,
    sop_instance_uid: str | None = None,
    alter: Callable[[Dataset], None] | None = None,
) -> KosDocument:
    """Build the KOS; a replacement passes the previous KO ``series_uid`` and the next ``instance_number``;
    ``alter`` (the KOS faults) changes the finished data set before it is written."""
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    sop_instance_uid = sop_instance_uid or generate_uid()
    series_uid = series_uid or generate_uid()

    ds = Dataset()
    # SOP Common
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    ds.SOPClassUID = KOS_SOP_CLASS
    ds.SOPInstanceUID = sop_instance_uid
    ds.TimezoneOffsetFromUTC = "+0000"
    # General Study
    ds.StudyDate, ds.StudyTime = study.study_date, study.study_time
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyDescription = study.study_description
    ds.StudyInstanceUID = study.study_uid
    ds.StudyID = study.study_id
    # Key Object Document Series
    ds.Modality = "KO"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = KO_SERIES_NUMBER
    ds.SeriesDate, ds.SeriesTime = date, time
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    # General Equipment
    ds.Manufacturer = settings.manufacturer
    if institution_name:
        ds.InstitutionName = institution_name[:64]
    if settings.software_version:
        ds.SoftwareVersions = settings.software_version
    # Patient
    ds.PatientName = f"{patient.birth_name}^{patient.given_name}"
    ds.PatientID = patient.ins
    ds.IssuerOfPatientID = INS_ISSUER
    ds.IssuerOfPatientIDQualifiersSequence = Sequence([_entity(patient.ins_oid)])
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.OtherPatientIDsSequence = Sequence(_other_ids(patient))
    # Key Object Document
    ds.InstanceNumber = instance_number
    ds.ContentDate, ds.ContentTime = date, time
    ds.ReferencedRequestSequence = Sequence([_request(order, study.study_uid)])
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([_evidence(study, settings)])
    # SR Document Content
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code("113030", "DCM", "Manifest")])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.MappingResourceUID = DCMR_UID
    template.TemplateIdentifier = "2010"
    ds.ContentTemplateSequence = Sequence([template])
    ds.ContentSequence = Sequence(
        [_reference_item(instance, settings.image_items_only) for _, instances in study.series() for instance in instances]
        + [_description_item(study)]
    )

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(KOS_SOP_CLASS)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if settings.implicit_vr else ExplicitVRLittleEndian
    if alter is not None:
        alter(ds)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return KosDocument(buffer.getvalue(), sop_instance_uid, series_uid, instance_number)


def _entity(uid: str) -> Dataset:
    item = Dataset()
    item.UniversalEntityID = uid
    item.UniversalEntityIDType = "ISO"
    return item


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _other_ids(patient: CdaPatient) -> list[Dataset]:
    ins = Dataset()
    ins.PatientID = patient.ins
    ins.IssuerOfPatientID = INS_ISSUER
    ins.TypeOfPatientID = "TEXT"
    ins.IssuerOfPatientIDQualifiersSequence = Sequence([_entity(patient.ins_oid)])
    items = [ins]
    if patient.ipp:
        ipp = Dataset()
        ipp.PatientID = patient.ipp
        ipp.TypeOfPatientID = "TEXT"
        if patient.ipp_oid:
            ipp.IssuerOfPatientIDQualifiersSequence = Sequence([_entity(patient.ipp_oid)])
        items.append(ipp)
    return items


def _request(order: CdaOrder, study_uid: str) -> Dataset:
    item = Dataset()
    item.AccessionNumber = order.accession
    item.IssuerOfAccessionNumberSequence = Sequence([_entity(order.accession_issuer)] if order.accession_issuer else [])
    item.ReferencedStudySequence = Sequence()
    item.StudyInstanceUID = study_uid
    item.RequestedProcedureDescription = ""
    item.RequestedProcedureCodeSequence = Sequence()
    item.OrderPlacerIdentifierSequence = Sequence([_entity(order.order_root)] if order.order_root else [])
    item.RequestedProcedureID = ""
    item.PlacerOrderNumberImagingServiceRequest = order.order_id
    item.FillerOrderNumberImagingServiceRequest = ""
    return item


def _evidence(study: PacsStudy, settings: KosSettings) -> Dataset:
    item = Dataset()
    item.StudyInstanceUID = study.study_uid
    series_items = []
    for series_uid, instances in study.series():
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        series.RetrieveAETitle = settings.retrieve_ae_title
        if settings.retrieve_location_uid:  # empty: none written (variant no_retrieve_location_uid)
            series.RetrieveLocationUID = settings.retrieve_location_uid
        if settings.include_retrieve_url:
            series.RetrieveURL = retrieve_url(settings.wado_base_url, study.study_uid, series_uid)
        series.ReferencedSOPSequence = Sequence([_sop_reference(instance) for instance in instances])
        series_items.append(series)
    item.ReferencedSeriesSequence = Sequence(series_items)
    return item


def _sop_reference(instance: PacsInstance) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = instance.sop_class_uid
    item.ReferencedSOPInstanceUID = instance.sop_instance_uid
    return item


def _reference_item(instance: PacsInstance, image_only: bool = False) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "IMAGE" if image_only or is_image_sop_class(instance.sop_class_uid) else "COMPOSITE"
    item.ReferencedSOPSequence = Sequence([_sop_reference(instance)])
    return item


def _description_item(study: PacsStudy) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = Sequence([_code("113012", "DCM", "Key Object Description")])
    described = study.study_description or study.study_uid
    item.TextValue = f"Manifest of study {described}: {len(study.instances)} instance(s)"
    return item
