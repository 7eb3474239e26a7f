"""INS test identities, professionals and organisations."""

from __future__ import annotations

import random

import pytest

from drimva.context import INS_NIR_TEST_OID
from fixtures.identities import ins_key, is_valid_ins, luhn_key, new_organisation, new_patient, new_professional


def test_ins_key_of_the_ans_test_patients():
    # PAT-TROIS (HL7 / CDA datasets) and PAT-SIX (demonstrator KOS)
    assert ins_key("2790351215189") == "89"
    assert ins_key("1620188850453") == "27"
    assert is_valid_ins("279035121518989")
    assert is_valid_ins("162018885045327")


def test_ins_key_handles_corsica():
    # 2A counts as 19 and 2B as 18 in the key computation
    assert ins_key("180052A123456") == f"{97 - 1800519123456 % 97:02d}"
    assert ins_key("180052B123456") == f"{97 - 1800518123456 % 97:02d}"
    assert is_valid_ins("180052A123456" + ins_key("180052A123456"))


@pytest.mark.parametrize("value", ["279035121518988", "27903512151898", "2790351215189890", "27903512151898X", ""])
def test_invalid_ins_values_are_refused(value):
    assert not is_valid_ins(value)


def test_ins_key_refuses_a_short_nir():
    with pytest.raises(ValueError, match="13 characters"):
        ins_key("123")


def test_new_patient_is_consistent_with_its_nir():
    rng = random.Random(7)
    for _ in range(200):
        patient = new_patient(rng)
        nir = patient.ins[:13]
        assert is_valid_ins(patient.ins)
        assert patient.ins_oid == INS_NIR_TEST_OID
        assert nir[0] == {"M": "1", "F": "2"}[patient.sex]
        assert nir[1:3] == patient.birth_date[2:4]
        assert nir[3:5] == patient.birth_date[4:6]
        assert nir[5:10] == patient.birth_place
        assert patient.birth_name.startswith("PAT-") and patient.birth_name.isupper()
        assert patient.given_name and patient.ipp_authority and patient.ipp_oid


def test_new_patient_ipp_is_unique_even_with_the_same_seed():
    first = new_patient(random.Random(1))
    second = new_patient(random.Random(1))
    assert first.ins == second.ins  # same seed, same identity
    assert first.ipp != second.ipp


def test_new_patient_sex_can_be_chosen():
    assert new_patient(sex="F").ins[0] == "2"
    assert new_patient(sex="M").ins[0] == "1"
    with pytest.raises(ValueError):
        new_patient(sex="X")


def test_luhn_key():
    assert luhn_key("7992739871") == "3"  # the textbook example


def test_professional_and_organisation_ids():
    rng = random.Random(3)
    person = new_professional(rng)
    assert len(person.national_id) == 12 and person.national_id.startswith("899")
    assert luhn_key(person.national_id[1:-1]) == person.national_id[-1]
    org = new_organisation(rng)
    assert len(org.structure_id) == 9 and org.structure_id.isdigit()
    assert org.id_type == "FINEG"
    assert luhn_key(org.structure_id[:-1]) == org.structure_id[-1]
