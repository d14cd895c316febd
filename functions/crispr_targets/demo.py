"""The crispr_targets scenario for `localcloud demo`.

1. Load the synthetic genome (2 Mb in 8 chunks, planted near-matches) with GenomeFunction.
2. Show that bad sequences are refused with 400 and a message.
3. Submit the genome's query region as a job (the FASTA the loader put under inputs/), poll
   GET /jobs/{id} until DONE, and read every target with GET /jobs/{id}/targets.
4. Check: the three guides are found at their positions and strands; every planted site the
   scorer must count is among its guide's hits (position, strand, mismatches) and no other
   plant is; the counts of the guides and of a sample of other targets equal the pure-Python
   brute force over the genome read back from S3.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

GENOME = {"genome_id": "synthetic-v1", "seed": 7, "length": 2_000_000, "chunk_size": 250_000,
          "query_length": 400}
MAX_MISMATCHES = 3
SAMPLE = 3  # targets besides the guides checked against the brute force


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def invoke(self, function: str, event: Any) -> Any: ...

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]: ...


def _brute_force() -> ModuleType:
    path = Path(__file__).resolve().parent / "genome" / "brute_force.py"
    spec = importlib.util.spec_from_file_location("crispr_targets_brute_force", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_genome(s3: Any, bucket: str, genome_id: str) -> str:
    """The genome sequence put back together from its chunks (each chunk's own bases)."""
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"genomes/{genome_id}/manifest.json")
                          ["Body"].read())
    parts = []
    for chunk in manifest["chunks"]:
        text = s3.get_object(Bucket=bucket, Key=chunk["key"])["Body"].read().decode()
        parts.append(text[:chunk["core"]])
    return "".join(parts)


def wait_for_job(ctx: DemoContext, url: str, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, job = ctx.http("GET", url)
        if status != 200:
            raise AssertionError(f"GET {url} answered {status}: {job}")
        if job["status"] in ("DONE", "FAILED"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {job['status']} after {timeout:g} s")
        time.sleep(0.5)


def all_targets(ctx: DemoContext, url: str, page: int = 25) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    token = None
    while True:
        query = f"?limit={page}" + (f"&next_token={token}" if token else "")
        status, body = ctx.http("GET", url + query)
        if status != 200:
            raise AssertionError(f"GET {url}{query} answered {status}: {body}")
        targets.extend(body["targets"])
        token = body["next_token"]
        if not token:
            return targets


def check_bad_input(ctx: DemoContext, api: str) -> None:
    cases = [
        ({"sequence": "ACGTACGTACGTACGTACGTACGTXACGT"}, "found 'X' at position 25"),
        ({"sequence": "  \n "}, "must not be empty"),
        ({"sequence": "A" * 20_001}, "the limit is 20000 nt"),
        ({"s3_key": "inputs/no-such-file.fa"}, "No object"),
    ]
    for body, expected in cases:
        status, answer = ctx.http("POST", api + "jobs", body)
        message = answer.get("message", "") if isinstance(answer, dict) else str(answer)
        if status != 400 or expected not in message:
            raise AssertionError(f"bad input {str(body)[:40]}... answered {status} {answer}")
    ctx.step(f"{len(cases)} bad submissions refused with 400 (bad base, empty, oversized, "
             "missing FASTA)")


def check_plants(summary: dict[str, Any], by_site: dict[tuple[int, str], dict[str, Any]],
                 query_start: int) -> list[dict[str, Any]]:
    """The guides' targets, after checking their planted hits."""
    guides = []
    for g, guide in enumerate(summary["guides"]):
        site = (guide["position"] - query_start + 1, guide["strand"])
        target = by_site.get(site)
        if target is None or target["protospacer"] != guide["protospacer"]:
            raise AssertionError(f"guide {g} not found at query position {site}")
        hits = {(h["position"], h["strand"], h["mismatches"]) for h in target["offtarget_hits"]}
        for plant in summary["plants"]:
            if plant["guide"] != g:
                continue
            hit = (plant["position"], plant["strand"], plant["mismatches"])
            counted = plant["pam_ok"] and plant["mismatches"] <= MAX_MISMATCHES
            if counted and hit not in hits:
                raise AssertionError(f"guide {g}: planted site {hit} is not among its hits")
            if not counted and any(h[:2] == hit[:2] for h in hits):
                raise AssertionError(f"guide {g}: planted site {hit} must not count "
                                     f"(PAM {plant['pam']}, {plant['mismatches']} mismatches)")
        guides.append(target)
    return guides


def run(ctx: DemoContext) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    api, bucket = ctx.outputs.get("ApiUrl"), ctx.outputs.get("DataBucketName")
    if not api or not bucket:
        raise AssertionError("stack outputs ApiUrl / DataBucketName are missing")
    started = time.monotonic()
    summary = ctx.invoke("GenomeFunction", GENOME)
    ctx.step(f"genome {summary['genome_id']} loaded: {summary['length']:,} bp in "
             f"{summary['chunk_count']} chunks, {len(summary['plants'])} planted sites "
             f"({time.monotonic() - started:.1f} s)")
    check_bad_input(ctx, api)

    status, job = ctx.http("POST", api + "jobs", {"s3_key": summary["query_key"],
                                                  "name": "demo query",
                                                  "max_mismatches": MAX_MISMATCHES})
    if status != 202 or job.get("status") != "QUEUED":
        raise AssertionError(f"POST /jobs answered {status}: {job}")
    ctx.step(f"job {job['job_id']} QUEUED for {summary['query_key']} "
             f"({job['sequence_length']} nt)")
    t0 = time.monotonic()
    job = wait_for_job(ctx, api + f"jobs/{job['job_id']}")
    if job["status"] != "DONE":
        raise AssertionError(f"job ended {job['status']}: {job.get('error')}")
    ctx.step(f"job DONE in {time.monotonic() - t0:.1f} s: {job['target_count']} targets x "
             f"{summary['chunk_count']} chunks = {job['comparisons']} comparisons, "
             f"{job['genome_sites']:,} genome PAM sites")

    targets = all_targets(ctx, api + f"jobs/{job['job_id']}/targets")
    if len(targets) != job["target_count"] or any(t["offtarget_counts"] is None
                                                   for t in targets):
        raise AssertionError(f"{len(targets)} targets listed, {job['target_count']} expected, "
                             "all scored")
    strands = {t["strand"] for t in targets}
    by_site = {(t["position"], t["strand"]): t for t in targets}
    guides = check_plants(summary, by_site, summary["query"]["start"])
    ctx.step(f"{len(targets)} targets on strands {sorted(strands)}; the 3 guides found, "
             f"their planted sites all in the hits: "
             + ", ".join(f"{g['target_id']} {g['offtarget_counts']}" for g in guides))

    t0 = time.monotonic()
    genome = read_genome(ctx.client("s3"), bucket, summary["genome_id"])
    guide_ids = {g["target_id"] for g in guides}
    others = [t for t in targets if t["target_id"] not in guide_ids]
    step = max(1, len(others) // SAMPLE)
    checked = guides + others[::step][:SAMPLE]
    reference = _brute_force().brute_force(genome, [t["protospacer"] for t in checked],
                                           MAX_MISMATCHES)
    for target, ref in zip(checked, reference, strict=True):
        hits = [(h["position"], h["strand"], h["mismatches"]) for h in target["offtarget_hits"]]
        if target["offtarget_counts"] != ref["counts"] or hits != ref["hits"][:len(hits)]:
            raise AssertionError(f"{target['target_id']}: counts {target['offtarget_counts']} "
                                 f"but the brute force says {ref['counts']}")
    ctx.step(f"counts of {len(checked)} targets equal the brute force over the "
             f"{len(genome):,} bp read back from S3 ({time.monotonic() - t0:.1f} s)")
    best = ", ".join(f"{b['target_id']} ({b['specificity']}, {b['activity']})"
                     for b in job["best_targets"][:3])
    ctx.step(f"best targets: {best}")
