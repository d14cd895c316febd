"""Checking and normalising a submitted DNA sequence (pure functions, no AWS).

A sequence arrives as plain text or as one FASTA record. Whitespace (line breaks included) is
dropped and soft-masked lowercase is upper-cased; what is left must be A, C, G, T or N, at
least one site long (23 nt) and at most the configured limit.
"""

from __future__ import annotations

import re

from common.validation import ValidationError

MIN_LENGTH = 23  # a 20-nt protospacer and its 3-nt PAM
_WHITESPACE = re.compile(r"\s+")
_INVALID = re.compile(r"[^ACGTN]")


def fasta_body(text: str, field: str = "sequence") -> str:
    """The sequence lines of one FASTA record (or `text` itself when it has no header)."""
    if not text.lstrip().startswith(">"):
        return text
    headers = 0
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(">"):
            headers += 1
        elif not line.startswith(";"):  # old-style FASTA comment lines
            lines.append(line)
    if headers > 1:
        raise ValidationError(
            f"FASTA holds {headers} records; submit one sequence per job", field=field
        )
    return "".join(lines)


def normalise_sequence(text: str, max_length: int, field: str = "sequence") -> str:
    """`text` (plain or one FASTA record) as an uppercase A/C/G/T/N string, or ValidationError."""
    sequence = _WHITESPACE.sub("", fasta_body(text, field)).upper()
    if not sequence:
        raise ValidationError(f"Field '{field}' holds no sequence", field=field)
    bad = _INVALID.search(sequence)
    if bad:
        raise ValidationError(
            f"Field '{field}' may only hold A, C, G, T or N; found {bad.group()!r} at position "
            f"{bad.start() + 1}",
            field=field,
        )
    if len(sequence) > max_length:
        raise ValidationError(
            f"Sequence is {len(sequence)} nt; the limit is {max_length} nt", field=field
        )
    if len(sequence) < MIN_LENGTH:
        raise ValidationError(
            f"Sequence is {len(sequence)} nt; a site needs at least {MIN_LENGTH} nt "
            "(20-nt protospacer + 3-nt PAM)",
            field=field,
        )
    return sequence
