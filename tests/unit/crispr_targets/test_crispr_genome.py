"""The synthetic genome (deterministic, planted sites where it says) and its loader."""

from __future__ import annotations

import json
from typing import Any

import pytest
from brute_force import brute_force
from cas9_sites import find_candidates
from offtargets import chunk_sites, score_batch
from synthetic_genome import PLANT_SPECS, make_genome, reverse_complement

SMALL = {"seed": 11, "length": 300_000, "chunk_size": 100_000, "query_length": 300}


@pytest.fixture(scope="module")
def small() -> Any:
    return make_genome(**SMALL)


def test_same_seed_same_genome_other_seed_other_genome(small: Any) -> None:
    again = make_genome(**SMALL)
    assert again.sequence == small.sequence and again.plants == small.plants
    other = make_genome(**{**SMALL, "seed": 12})
    assert other.sequence != small.sequence
    assert len(small.sequence) == SMALL["length"]


def test_plants_are_in_the_sequence_where_the_summary_says(small: Any) -> None:
    assert len(small.plants) == 3 * len(PLANT_SPECS)
    for plant in small.plants:
        text = small.sequence[plant.position - 1:plant.position + 22]
        site = text if plant.strand == "+" else reverse_complement(text)
        guide = small.guides[plant.guide]
        mismatches = sum(a != b for a, b in zip(site[:20], guide, strict=True))
        assert mismatches == plant.mismatches
        assert site[20:] == plant.pam
        assert plant.pam_ok == site.endswith("GG")
    boundary = [p for p in small.plants if p.position - 1 < 100_000 < p.position + 22]
    assert len(boundary) == 1  # one plant straddles the chunk 0/1 boundary
    assert {p.strand for p in small.plants} == {"+", "-"}
    assert "N" * 2000 in small.sequence


def test_the_query_holds_the_guides_and_the_finder_finds_them(small: Any) -> None:
    query = small.query
    found = {(c.position + small.query_start, c.strand, c.protospacer)
             for c in find_candidates(query)}
    for guide, (position, strand) in zip(small.guides, small.guide_sites, strict=True):
        assert (position, strand, guide) in found


def test_chunked_numpy_counts_equal_the_brute_force_for_every_query_target(small: Any) -> None:
    targets = [c.protospacer for c in find_candidates(small.query)]
    genome, chunk = small.sequence, SMALL["chunk_size"]
    totals = [[0] * 4 for _ in targets]
    for start in range(0, len(genome), chunk):
        result = score_batch(targets, chunk_sites(genome[start:start + chunk + 22], start,
                                                  min(chunk, len(genome) - start)), 3)
        totals = [[a + b for a, b in zip(x, y, strict=True)]
                  for x, y in zip(totals, result.counts, strict=True)]
    ref = brute_force(genome, targets, 3)
    assert totals == [r["counts"] for r in ref]
    for g, guide in enumerate(small.guides):
        assert totals[targets.index(guide)] == small.expected_counts(g, 3) == [2, 1, 2, 1]


def test_too_small_a_genome_is_refused() -> None:
    with pytest.raises(ValueError):
        make_genome(length=20_000)
    with pytest.raises(ValueError):
        make_genome(query_length=100)


# --- the loader (GenomeFunction) ---------------------------------------------------------


def test_load_synthetic_writes_chunks_manifest_and_query(aws: Any, genome_app: Any) -> None:
    loader = genome_app.Loader(aws.s3, aws.bucket)
    out = genome_app.load({"genome_id": "g1", **SMALL}, loader, 10_000_000)
    assert (out["chunk_count"], out["length"], out["query_key"]) == (3, 300_000,
                                                                    "inputs/g1-query.fa")
    manifest = json.loads(aws.s3.get_object(Bucket=aws.bucket,
                                            Key="genomes/g1/manifest.json")["Body"].read())
    assert [(c["start"], c["core"]) for c in manifest["chunks"]] == [
        (0, 100_000), (100_000, 100_000), (200_000, 100_000)]
    genome = make_genome(**SMALL).sequence
    for chunk in manifest["chunks"]:
        obj = aws.s3.get_object(Bucket=aws.bucket, Key=chunk["key"])
        text = obj["Body"].read().decode()
        assert obj["Metadata"] == {"start": str(chunk["start"]), "core": str(chunk["core"])}
        assert text == genome[chunk["start"]:chunk["start"] + chunk["core"] + 22]
    fasta = aws.s3.get_object(Bucket=aws.bucket, Key="inputs/g1-query.fa")["Body"].read()
    lines = fasta.decode().splitlines()
    assert lines[0].startswith(">g1 query ")
    assert "".join(lines[1:]) == make_genome(**SMALL).query
    assert len(out["plants"]) == 21 and len(out["guides"]) == 3


def test_load_fasta_genome(aws: Any, genome_app: Any) -> None:
    sequence = "ACGT" * 2_600
    aws.s3.put_object(Bucket=aws.bucket, Key="inputs/tiny.fa",
                      Body=(">tiny\n" + "\n".join(sequence[i:i + 60]
                                                  for i in range(0, len(sequence), 60))).encode())
    loader = genome_app.Loader(aws.s3, aws.bucket)
    out = genome_app.load({"genome_id": "tiny", "fasta_key": "inputs/tiny.fa",
                           "chunk_size": 4_000}, loader, 1_000_000)
    assert (out["length"], out["chunk_count"]) == (10_400, 3)
    last = aws.s3.get_object(Bucket=aws.bucket, Key="genomes/tiny/chunks/00002.txt")
    assert last["Metadata"] == {"start": "8000", "core": "2400"}


@pytest.mark.parametrize(("event", "message"), [
    ({"genome_id": "bad id!"}, "genome_id must be"),
    ({"genome_id": "g", "length": 5}, "length must be an integer from 10000"),
    ({"genome_id": "g", "chunk_size": True}, "chunk_size must be an integer"),
    ({"genome_id": "g", "fasta_key": "elsewhere/x.fa"}, "fasta_key must be a key under inputs/"),
    ({"genome_id": "g", "fasta_key": "inputs/two.fa"}, "more than one record"),
    ({"genome_id": "g", "fasta_key": "inputs/bad.fa"}, "holds 'X' at base 5"),
    ({"genome_id": "g", "length": 60_000, "chunk_size": 50_000}, "length is too small"),
])
def test_bad_load_requests_write_nothing(aws: Any, genome_app: Any, event: dict,
                                         message: str) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key="inputs/two.fa", Body=b">a\nACGT\n>b\nACGT\n")
    aws.s3.put_object(Bucket=aws.bucket, Key="inputs/bad.fa", Body=b">a\nACGTXACGT\n")
    with pytest.raises(genome_app.GenomeError) as err:
        genome_app.load(event, genome_app.Loader(aws.s3, aws.bucket), 1_000_000)
    assert message in str(err.value)
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="genomes/")
    assert listed.get("KeyCount", 0) == 0
