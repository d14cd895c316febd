"""Synthetic cohorts and R's own answers for them, for the tests, the demo and the benchmark.

Not part of the function: nothing here is deployed. `rscript_statistics` runs a separate
`Rscript` (not the function's embedded R) on the same numbers, passed bit for bit as binary
doubles, and reads its results printed with 17 significant digits, so a comparison with the
API's JSON is exact.
"""

from __future__ import annotations

import math
import random
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cohort:
    """times/events of n samples and rows of values (one per gene)."""

    times: list[float]
    events: list[int]
    rows: list[list[float]]

    def body(self) -> dict[str, object]:
        """The POST /survival request body."""
        return {"times": self.times, "events": self.events, "values_by_record": self.rows}


def synthetic_cohort(
    seed: int,
    samples: int = 480,
    genes: int = 20,
    *,
    effects: tuple[float, ...] = (0.7,),
    whole_days: bool = True,
    event_rate: float = 1 / 1500,
    follow_up_days: float = 3000.0,
) -> Cohort:
    """A cohort whose first len(`effects`) genes change the hazard by exp(effect) per unit.

    Expression is standard normal; event times are exponential with hazard
    event_rate * exp(sum(effect * gene)); censoring is uniform over the follow-up. With
    `whole_days` times are rounded up to days (ties, as in clinical data).
    """
    rng = random.Random(seed)
    rows = [[rng.gauss(0.0, 1.0) for _ in range(samples)] for _ in range(genes)]
    times, events = [], []
    for j in range(samples):
        risk = sum(effect * rows[g][j] for g, effect in enumerate(effects) if g < genes)
        event_time = rng.expovariate(event_rate * math.exp(risk))
        censor_time = rng.uniform(0.0, follow_up_days)
        time = min(event_time, censor_time)
        times.append(float(math.ceil(time)) if whole_days else time)
        events.append(1 if event_time <= censor_time else 0)
    if not any(events):
        events[0] = 1
    return Cohort(times, events, rows)


_RSCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
n <- as.integer(args[2]); k <- as.integer(args[3])
con <- file(args[1], "rb")
times <- readBin(con, "double", n, size = 8, endian = "little")
events <- readBin(con, "integer", n, size = 4, endian = "little")
values_matrix <- matrix(readBin(con, "double", n * k, size = 8, endian = "little"),
                        nrow = k, byrow = TRUE)
close(con)
for (i in seq_len(k)) {
  values <- values_matrix[i, ]
  warned <- 0L
  s <- tryCatch(withCallingHandlers(
         summary(coxph(Surv(times, events) ~ values + cluster(1:n)))$coefficients,
         warning = function(w) { warned <<- warned + 1L; invokeRestart("muffleWarning") }),
       error = function(e) matrix(NA_real_, 1, 6))
  cat(sprintf("%.17g %.17g %d\n", s[2], s[6], warned))
}
"""


def _write_binary(path: Path, times: list[float], events: list[int], rows: list[list[float]]
                  ) -> None:
    flat = [value for row in rows for value in row]
    with path.open("wb") as fh:
        fh.write(struct.pack(f"<{len(times)}d", *times))
        fh.write(struct.pack(f"<{len(events)}i", *events))
        fh.write(struct.pack(f"<{len(flat)}d", *flat))


def _number(text: str) -> float | None:
    # R prints NA as "NA" and NaN as "NaN"; neither is a result.
    value = float(text) if text not in ("NA", "NaN", "Inf", "-Inf") else math.nan
    return value if math.isfinite(value) else None


def rscript_statistics(
    times: list[float], events: list[int], rows: list[list[float]], rscript: str = "Rscript"
) -> list[tuple[float | None, float | None]]:
    """(hazard, pval) per row as a separate Rscript computes them.

    None where R gives NA/NaN/Inf, and for both numbers of a row whose fit R warned about
    (not converged): the API reports those rows as errors (see survival_r.NOT_CONVERGED)."""
    return [(None, None) if warned else (hazard, pval)
            for hazard, pval, warned in rscript_fits(times, events, rows, rscript)]


def rscript_fits(
    times: list[float], events: list[int], rows: list[list[float]], rscript: str = "Rscript"
) -> list[tuple[float | None, float | None, int]]:
    """(hazard, pval, number of R warnings) per row, as a separate Rscript computes them."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "cohort.bin")
        script = Path(tmp, "cox.R")
        _write_binary(data, times, events, rows)
        script.write_text(_RSCRIPT)
        out = subprocess.run(
            [rscript, "--vanilla", str(script), str(data), str(len(times)), str(len(rows))],
            capture_output=True, text=True, check=True, timeout=300,
        )
    results = []
    for line in out.stdout.splitlines():
        hazard, pval, warned = line.split()
        results.append((_number(hazard), _number(pval), int(warned)))
    if len(results) != len(rows):
        raise RuntimeError(f"Rscript printed {len(results)} results for {len(rows)} rows")
    return results


_RSCRIPT_LOGRANK = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
n <- as.integer(args[2])
con <- file(args[1], "rb")
times <- readBin(con, "double", n, size = 8, endian = "little")
events <- readBin(con, "integer", n, size = 4, endian = "little")
values <- readBin(con, "double", n, size = 8, endian = "little")
close(con)
cutoff <- if (args[3] == "median") median(values) else as.numeric(args[3])
group <- factor(ifelse(values > cutoff, "high", "low"), levels = c("low", "high"))
test <- survdiff(Surv(times, events) ~ group)
cat(sprintf("%.17g %.17g %d %d %d %d\n", cutoff,
            pchisq(test$chisq, df = 1, lower.tail = FALSE),
            test$n[1], test$n[2], as.integer(test$obs[1]), as.integer(test$obs[2])))
"""


def rscript_logrank(
    times: list[float], events: list[int], values: list[float], cutoff: str = "median",
    rscript: str = "Rscript",
) -> dict[str, object]:
    """The cutoff, log-rank p-value, group sizes and events a separate Rscript computes.

    `cutoff` is "median" or a number written with 17 significant digits.
    """
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "cohort.bin")
        script = Path(tmp, "logrank.R")
        _write_binary(data, times, events, [values])
        script.write_text(_RSCRIPT_LOGRANK)
        out = subprocess.run(
            [rscript, "--vanilla", str(script), str(data), str(len(times)), cutoff],
            capture_output=True, text=True, check=True, timeout=120,
        )
    cut, pval, n_low, n_high, e_low, e_high = out.stdout.split()
    return {"cutoff": float(cut), "pval": float(pval), "sizes": (int(n_low), int(n_high)),
            "events": (int(e_low), int(e_high))}
