"""Submitted sequences: plain or one FASTA record, whitespace and case forgiven, limits enforced."""

from __future__ import annotations

import pytest
from dna_input import MIN_LENGTH, normalise_sequence

from common.validation import ValidationError

SITE = "ACGTACGTACGTACGTACGTTGG"


def test_whitespace_and_lowercase_are_normalised() -> None:
    assert normalise_sequence(" acgtacgtac\ngtacgtacgt\r\n\tTGG ", 100) == SITE


def test_one_fasta_record_keeps_only_its_sequence_lines() -> None:
    text = ">chr1:100-123 my gene\n;old comment\nACGTACGTAC\nGTACGTACGT\nTGG\n"
    assert normalise_sequence(text, 100) == SITE


@pytest.mark.parametrize(("text", "message"), [
    ("ACGTACGTACGTACGTACGTXGG", "found 'X' at position 21"),
    ("ACGTACGTACGTACGTACGTRGG", "found 'R' at position 21"),  # IUPAC codes are refused too
    ("ACGT-ACGTACGTACGTACGTACGT", "found '-' at position 5"),
    ("ACGTACGTACGTACGTACGTACGU", "found 'U' at position 24"),
    ("   \n\t", "holds no sequence"),
    (">header only\n", "holds no sequence"),
    (">a\nACGTACGTACGTACGTACGTACGT\n>b\nACGT\n", "FASTA holds 2 records"),
    ("ACGTACGTAC", f"a site needs at least {MIN_LENGTH} nt"),
    ("A" * 101, "Sequence is 101 nt; the limit is 100 nt"),
])
def test_bad_sequences_are_400_with_a_message(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        normalise_sequence(text, 100)
    assert err.value.status == 400
    assert message in err.value.message
    assert err.value.field == "sequence"


def test_limit_is_on_the_bases_not_on_the_text() -> None:
    # 100 bases spread over lines with a header fit a 100-nt limit.
    text = ">x\n" + "\n".join(["ACGTACGTAC"] * 10)
    assert len(normalise_sequence(text, 100)) == 100


def test_field_name_is_reported() -> None:
    with pytest.raises(ValidationError) as err:
        normalise_sequence("ACGQ" * 10, 100, field="s3_key")
    assert err.value.field == "s3_key"
