"""R, loaded once per execution environment, and the two computations the API offers.

Import order matters: R_HOME must name the R installation and R's shared libraries must be
loadable *before* rpy2 is imported, because rpy2 opens libR.so at import time. The template
sets R_HOME and LD_LIBRARY_PATH for the container image; on a developer machine (localcloud,
tests) those paths do not exist, so the system R found by `R RHOME` is used instead.
LD_LIBRARY_PATH is read by the dynamic loader only when a process starts, so changing it here
would not help this process: R's own libraries are preloaded by absolute path instead (as the
original article's handler did), and the variable is still updated for R's child processes.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class RNotFoundError(RuntimeError):
    """No usable R installation (no R_HOME with lib/libR.so, no `R` on the PATH)."""


def _has_libr(home: str | os.PathLike[str] | None) -> bool:
    return bool(home) and Path(home, "lib", "libR.so").is_file()


def find_r_home(
    environ: MutableMapping[str, str] | None = None,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> Path:
    """R_HOME from the environment when it holds lib/libR.so, else what `R RHOME` prints."""
    env = os.environ if environ is None else environ
    configured = env.get("R_HOME")
    if _has_libr(configured):
        return Path(configured)  # type: ignore[arg-type]
    r_bin = shutil.which("R", path=env.get("PATH"))
    if r_bin is None:
        raise RNotFoundError(
            f"R_HOME={configured!r} has no lib/libR.so and there is no R on the PATH "
            "(install r-base-core, or set R_HOME)"
        )
    # Without the stale R_HOME, which the R script would warn about on stdout.
    clean_env = {k: v for k, v in env.items() if k != "R_HOME"}
    out = run([r_bin, "RHOME"], capture_output=True, text=True, check=False, timeout=30,
              env=clean_env)
    home = out.stdout.strip()
    if out.returncode != 0 or not _has_libr(home):
        raise RNotFoundError(f"`R RHOME` gave {home!r}, which has no lib/libR.so")
    return Path(home)


def configure_environment(home: Path, environ: MutableMapping[str, str] | None = None) -> None:
    """Point R_HOME at `home` and put its lib folder first on LD_LIBRARY_PATH."""
    env = os.environ if environ is None else environ
    env["R_HOME"] = str(home)
    lib = str(home / "lib")
    parts = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    if lib not in parts:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([lib, *parts])


def preload_shared_libraries(lib_dir: Path) -> list[str]:
    """dlopen every shared library of R's lib folder globally; returns the names loaded.

    Libraries that need another one of the folder fail until it is loaded, so the loop repeats
    while it makes progress; whatever still fails is left for rpy2 to report.
    """
    pending = sorted(p for p in lib_dir.glob("*.so*") if p.is_file())
    loaded: list[str] = []
    while pending:
        failed = []
        for path in pending:
            try:
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                loaded.append(path.name)
            except OSError:
                failed.append(path)
        if len(failed) == len(pending):
            break
        pending = failed
    return loaded


# Defined once in R, in an environment of their own. Each row is fitted with exactly the model
# of the issue, `coxph(Surv(times, events) ~ values + cluster(1:n))`; summary()'s coefficient
# matrix is coef, exp(coef), se, robust se, z, Pr(>|z|), so [2] is the hazard ratio and [6] the
# robust p-value. A row's warnings and error are kept with that row instead of ending the call.
_R_CODE = r"""
local({
  suppressPackageStartupMessages(library(survival))

  cox_rows <- function(times, events, values_matrix) {
    n <- length(times)
    k <- nrow(values_matrix)
    hazard <- rep(NA_real_, k)
    pval <- rep(NA_real_, k)
    errors <- rep(NA_character_, k)
    warns <- rep(NA_character_, k)
    for (i in seq_len(k)) {
      values <- values_matrix[i, ]
      w <- character(0)
      res <- tryCatch(
        withCallingHandlers({
          fit <- coxph(Surv(times, events) ~ values + cluster(1:n))
          s <- summary(fit)$coefficients
          c(s[2], s[6])
        }, warning = function(cond) {
          w <<- c(w, conditionMessage(cond))
          invokeRestart("muffleWarning")
        }),
        error = function(cond) {
          errors[i] <<- conditionMessage(cond)
          c(NA_real_, NA_real_)
        })
      hazard[i] <- res[1]
      pval[i] <- res[2]
      if (length(w)) warns[i] <- paste(unique(w), collapse = "; ")
    }
    list(hazard = hazard, pval = pval, error = errors, warning = warns)
  }

  km_plot <- function(times, events, values, cutoff, path, width, height, title) {
    group <- factor(ifelse(values > cutoff, "high", "low"), levels = c("low", "high"))
    fit <- survfit(Surv(times, events) ~ group)
    test <- survdiff(Surv(times, events) ~ group)
    p <- pchisq(test$chisq, df = 1, lower.tail = FALSE)
    colours <- c("#1f77b4", "#d62728")
    sizes <- as.integer(table(group))
    png(path, width = width, height = height, type = "cairo")
    tryCatch({
      plot(fit, col = colours, lwd = 2, mark.time = TRUE, xlab = "time",
           ylab = "survival probability", main = title)
      legend("bottomleft", bty = "n", col = colours, lwd = 2,
             legend = sprintf("%s (n = %d, events = %d)", levels(group), sizes,
                              as.integer(test$obs)))
      mtext(sprintf("cutoff %.6g, log-rank p = %.3g", cutoff, p), side = 3, line = 0.3)
    }, finally = dev.off())
    list(pval = p, sizes = sizes, events = as.integer(test$obs))
  }

  environment()
})
"""


@dataclass(frozen=True)
class RowResult:
    """One row's statistics; hazard and pval are None when R gave no finite value."""

    hazard: float | None
    pval: float | None
    error: str | None = None
    warning: str | None = None


@dataclass(frozen=True)
class PlotResult:
    """A rendered Kaplan-Meier plot and the numbers printed on it."""

    png: bytes
    cutoff: float
    logrank_pval: float
    sizes: tuple[int, int]  # (low, high)
    events: tuple[int, int]


def _text(value: Any) -> str | None:
    # rpy2 hands back R's NA_character_ as a special object; only real strings count.
    return value if isinstance(value, str) and not _is_na(value) else None


def _is_na(value: Any) -> bool:
    from rpy2.rinterface import NA_Character, NA_Real

    return value is NA_Character or value is NA_Real


def _finite(value: Any) -> float | None:
    if _is_na(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class SurvivalR:
    """The embedded R session and the R functions defined in it.

    R is single-threaded; a lock serialises calls should a caller use threads.
    """

    def __init__(self) -> None:
        self.home = find_r_home()
        configure_environment(self.home)
        self.preloaded = preload_shared_libraries(self.home / "lib")
        ld_library_path = os.environ["LD_LIBRARY_PATH"]
        import rpy2.rinterface_lib.callbacks as callbacks  # only now: R_HOME is set
        import rpy2.robjects as robjects

        # Starting R, rpy2 prepends R's ldpaths (which name the system's library folder) to
        # LD_LIBRARY_PATH. This process's loader never sees that, but child processes would:
        # a Python built elsewhere (pyenv) would then load the system's libpython. Keep ours.
        os.environ["LD_LIBRARY_PATH"] = ld_library_path
        # R's console output (startup notes) would otherwise go to stdout unstructured.
        self.console: list[str] = []
        callbacks.consolewrite_print = self.console.append
        callbacks.consolewrite_warnerror = self.console.append
        self._ro = robjects
        self._lock = threading.Lock()
        env = robjects.r(_R_CODE)
        self._cox_rows = env["cox_rows"]
        self._km_plot = env["km_plot"]
        self.r_version = str(robjects.r("R.version.string")[0])
        self.survival_version = str(robjects.r('as.character(packageVersion("survival"))')[0])

    def cox_rows(
        self, times: Sequence[float], events: Sequence[int], rows: Sequence[Sequence[float]]
    ) -> list[RowResult]:
        """coxph per row of `rows` (each as long as `times`), in order."""
        ro = self._ro
        flat = [value for row in rows for value in row]
        with self._lock:
            matrix = ro.r["matrix"](ro.FloatVector(flat), nrow=len(rows), byrow=True)
            out = self._cox_rows(ro.FloatVector(times), ro.IntVector(events), matrix)
            hazard, pval, errors, warns = (list(out[i]) for i in range(4))
        results = []
        for h, p, err, warn in zip(hazard, pval, errors, warns, strict=True):
            results.append(_row_result(_finite(h), _finite(p), _text(err), _text(warn)))
        return results

    def km_plot(
        self,
        times: Sequence[float],
        events: Sequence[int],
        values: Sequence[float],
        cutoff: float,
        *,
        width: int = 800,
        height: int = 600,
        title: str = "Kaplan-Meier",
    ) -> PlotResult:
        """A PNG of the survival curves of values <= cutoff ("low") and > cutoff ("high")."""
        ro = self._ro
        # Lambda's only writable folder is /tmp (tempfile's default there).
        fd, name = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        try:
            with self._lock:
                out = self._km_plot(
                    ro.FloatVector(times), ro.IntVector(events), ro.FloatVector(values),
                    cutoff, name, width, height, title,
                )
                pval = float(out[0][0])
                sizes = (int(out[1][0]), int(out[1][1]))
                events_by_group = (int(out[2][0]), int(out[2][1]))
            png = Path(name).read_bytes()
        finally:
            Path(name).unlink(missing_ok=True)
        return PlotResult(png, cutoff, pval, sizes, events_by_group)

    def median(self, values: Sequence[float]) -> float:
        """R's median(), so the default cutoff is the one an R user would get."""
        with self._lock:
            return float(self._ro.r["median"](self._ro.FloatVector(values))[0])


# R's words when Newton-Raphson stopped without a usable maximum: the numbers it still prints
# (say a hazard ratio of 1e8 with p = 0) would rank first in a genome-wide scan.
NOT_CONVERGED = ("did not converge", "may be infinite")


def _row_result(
    hazard: float | None, pval: float | None, error: str | None, warning: str | None
) -> RowResult:
    """One row's result; numbers R gave as NA/NaN/Inf arrive here as None."""
    if error is None and warning and any(words in warning for words in NOT_CONVERGED):
        error = f"coxph did not converge, so its estimate is not usable (R warned: {warning})"
    if error is not None:
        return RowResult(None, None, error=" ".join(error.split()), warning=warning)
    if hazard is None and pval is None:
        error = (
            "coxph gave no estimate (NA): the values are constant, or they order the outcomes "
            "so perfectly that the model cannot be fitted"
        )
    elif hazard is None:
        # exp(coef) overflowed: tiny-scaled values give a huge coef per unit; the p-value
        # does not depend on the scale and stays valid.
        error = "the hazard ratio exp(coef) is beyond double precision (rescale the values)"
    elif pval is None:
        error = "coxph gave no finite p-value for this row"
    if warning and error:
        error += f" (R warned: {warning})"
    return RowResult(hazard, pval, error=error, warning=warning)
