"""Load a genome into the data bucket as chunks, the way the scorer reads it.

Event: {"genome_id": "synthetic-v1", "seed": 7, "length": 2000000, "chunk_size": 250000,
"query_length": 400} generates the synthetic genome (synthetic_genome.py) and also writes its
query region as inputs/<genome_id>-query.fa; {"genome_id": "...", "fasta_key": "inputs/x.fa",
"chunk_size": ...} loads a one-record FASTA uploaded under inputs/ instead.

Layout: genomes/<id>/chunks/<index>.txt holds bases [start, start + core + 22) with the
chunk's `start` and `core` as object metadata, so every 23-nt site beginning in the core is
whole in one chunk and belongs to exactly one chunk; genomes/<id>/manifest.json lists them.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from synthetic_genome import make_genome

from common import aws
from common.observability import get_logger, get_tracer

logger = get_logger()
tracer = get_tracer()

OVERLAP = 22  # a 23-nt site beginning at a chunk's last core base ends 22 nt later
_GENOME_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_INVALID = re.compile(r"[^ACGTN]")
MIN_CHUNK, MAX_CHUNK = 1_000, 5_000_000


class GenomeError(ValueError):
    """The load request is not usable; nothing was written."""


def chunk_layout(length: int, chunk_size: int) -> list[tuple[int, int]]:
    """(start, core) of each chunk of a genome of `length` bases."""
    return [(start, min(chunk_size, length - start)) for start in range(0, length, chunk_size)]


def parse_fasta_genome(text: str) -> str:
    """The sequence of a one-record FASTA (uppercased); GenomeError for anything else."""
    lines = text.splitlines()
    if sum(1 for line in lines if line.startswith(">")) > 1:
        raise GenomeError("the FASTA holds more than one record; load one sequence per genome")
    sequence = "".join(line.strip() for line in lines if not line.startswith((">", ";")))
    sequence = sequence.upper()
    bad = _INVALID.search(sequence)
    if bad:
        raise GenomeError(f"the FASTA holds {bad.group()!r} at base {bad.start() + 1}; "
                          "only A, C, G, T and N are allowed")
    if len(sequence) < 23:
        raise GenomeError("the genome is shorter than one 23-nt site")
    return sequence


def _int(event: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = event.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GenomeError(f"{name} must be an integer from {low} to {high}")
    return value


class Loader:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put(self, key: str, body: str, content_type: str = "text/plain",
            metadata: dict[str, str] | None = None) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode("ascii"),
                           ContentType=content_type, Metadata=metadata or {})

    def write_genome(self, genome_id: str, sequence: str, chunk_size: int,
                     source: dict[str, Any]) -> dict[str, Any]:
        chunks = []
        for index, (start, core) in enumerate(chunk_layout(len(sequence), chunk_size)):
            key = f"genomes/{genome_id}/chunks/{index:05d}.txt"
            self.put(key, sequence[start:start + core + OVERLAP],
                     metadata={"start": str(start), "core": str(core)})
            chunks.append({"index": index, "key": key, "start": start, "core": core})
        manifest = {"genome_id": genome_id, "length": len(sequence), "chunk_size": chunk_size,
                    "overlap": OVERLAP, "chunks": chunks, "source": source,
                    "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        # The manifest goes last: a job can only start once every chunk is in place.
        self.put(f"genomes/{genome_id}/manifest.json", json.dumps(manifest), "application/json")
        return manifest

    def read_input(self, key: str, max_bytes: int) -> str:
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        if head["ContentLength"] > max_bytes:
            raise GenomeError(f"{key} is {head['ContentLength']} bytes; the limit is {max_bytes}")
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("ascii")


def load(event: Any, loader: Loader, max_length: int) -> dict[str, Any]:
    """Load the genome the event describes; returns the manifest's summary (and plants)."""
    if not isinstance(event, dict):
        raise GenomeError("the event must be an object")
    genome_id = event.get("genome_id")
    if not isinstance(genome_id, str) or not _GENOME_ID.fullmatch(genome_id):
        raise GenomeError("genome_id must be 1-64 letters, digits, '.', '_' or '-'")
    chunk_size = _int(event, "chunk_size", 250_000, MIN_CHUNK, MAX_CHUNK)
    if "fasta_key" in event:
        key = event["fasta_key"]
        if not isinstance(key, str) or not key.startswith("inputs/"):
            raise GenomeError("fasta_key must be a key under inputs/")
        sequence = parse_fasta_genome(loader.read_input(key, max_length * 2))
        if len(sequence) > max_length:
            raise GenomeError(f"the genome is {len(sequence)} nt; the limit is {max_length}")
        manifest = loader.write_genome(genome_id, sequence, chunk_size, {"fasta_key": key})
        return {"genome_id": genome_id, "length": manifest["length"],
                "chunk_count": len(manifest["chunks"])}
    seed = _int(event, "seed", 7, 0, 2**32 - 1)
    length = _int(event, "length", 2_000_000, 10_000, max_length)
    query_length = _int(event, "query_length", 400, 300, 20_000)
    try:
        genome = make_genome(seed=seed, length=length, chunk_size=chunk_size,
                             query_length=query_length)
    except ValueError as err:
        raise GenomeError(str(err)) from err
    summary = genome.summary()
    manifest = loader.write_genome(genome_id, genome.sequence, chunk_size,
                                   {"synthetic": {"seed": seed, "length": length,
                                                  "query_length": query_length},
                                    **summary})
    query_key = f"inputs/{genome_id}-query.fa"
    lines = [genome.query[i:i + 70] for i in range(0, len(genome.query), 70)]
    loader.put(query_key, f">{genome_id} query {genome.query_start + 1}-{genome.query_end}\n"
               + "\n".join(lines) + "\n")
    return {"genome_id": genome_id, "length": length, "chunk_count": len(manifest["chunks"]),
            "query_key": query_key, **summary}


LOADER = Loader(aws.client("s3"), os.environ.get("DATA_BUCKET", ""))
MAX_GENOME_LENGTH = int(os.environ.get("MAX_GENOME_LENGTH", 50_000_000))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: load a genome (see the module doc for the event)."""
    result = load(event, LOADER, MAX_GENOME_LENGTH)
    logger.info("Genome loaded", extra={"genome_id": result["genome_id"],
                                        "length": result["length"],
                                        "chunks": result["chunk_count"]})
    return result
