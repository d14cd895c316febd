"""The embedded R of survival_api: how R is found, and its numbers against R itself.

"R itself" is a separate `Rscript` process given the same doubles bit for bit
(functions/survival_api/cohorts.py); the API's numbers must be equal, not merely close. A
first-principles Cox fit in numpy checks the statistics themselves on cohorts without ties.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

TEMPLATE_R_HOME = "/opt/R/4.2.3/lib/R"  # what stacks/survival_api.yaml sets for the image


@pytest.fixture(scope="module")
def survival_r(app):
    import survival_r  # the module app.py imported (its folder is on sys.path)

    return survival_r


# --- finding R ------------------------------------------------------------------------------


def _fake_r_home(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "libR.so").write_bytes(b"")
    return root


def test_an_r_home_with_libr_is_taken_from_the_environment(survival_r, tmp_path):
    home = _fake_r_home(tmp_path / "R")

    def no_run(*args, **kwargs):
        raise AssertionError("R RHOME must not run when R_HOME is usable")

    assert survival_r.find_r_home({"R_HOME": str(home)}, run=no_run) == home


def test_a_stale_r_home_falls_back_to_r_rhome_without_it(survival_r, tmp_path):
    home = _fake_r_home(tmp_path / "R")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "R").write_text("#!/bin/sh\n")
    (bindir / "R").chmod(0o755)
    calls = []

    def run(cmd, **kwargs):
        calls.append((cmd, kwargs["env"]))
        return subprocess.CompletedProcess(cmd, 0, stdout=f"{home}\n", stderr="")

    env = {"R_HOME": TEMPLATE_R_HOME, "PATH": str(bindir)}
    assert survival_r.find_r_home(env, run=run) == home
    (cmd, run_env), = calls
    assert cmd == [str(bindir / "R"), "RHOME"]
    assert "R_HOME" not in run_env  # else R prints a warning before the path


def test_no_r_anywhere_is_a_clear_error(survival_r, tmp_path):
    with pytest.raises(survival_r.RNotFoundError, match="no R on the PATH"):
        survival_r.find_r_home({"R_HOME": TEMPLATE_R_HOME, "PATH": str(tmp_path)})


def test_r_rhome_naming_a_folder_without_libr_is_an_error(survival_r, tmp_path):
    (tmp_path / "R").write_text("#!/bin/sh\n")
    (tmp_path / "R").chmod(0o755)

    def run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, stdout=f"{tmp_path}\n", stderr="")

    with pytest.raises(survival_r.RNotFoundError, match="has no lib/libR.so"):
        survival_r.find_r_home({"PATH": str(tmp_path)}, run=run)


def test_the_template_r_home_falls_back_to_the_system_r(survival_r):
    # The real `R RHOME` of this machine, reached because the image's path does not exist here.
    found = survival_r.find_r_home({"R_HOME": TEMPLATE_R_HOME, "PATH": os.environ["PATH"]})
    assert (found / "lib" / "libR.so").is_file()
    assert str(found) != TEMPLATE_R_HOME


def test_configure_environment_puts_r_lib_first_once(survival_r, tmp_path):
    env = {"LD_LIBRARY_PATH": "/var/lang/lib:/lib64"}
    survival_r.configure_environment(tmp_path, env)
    survival_r.configure_environment(tmp_path, env)
    assert env["R_HOME"] == str(tmp_path)
    assert env["LD_LIBRARY_PATH"] == f"{tmp_path}/lib:/var/lang/lib:/lib64"


def test_preload_loads_what_it_can_and_skips_the_rest(survival_r, r, tmp_path):
    assert "libR.so" in survival_r.preload_shared_libraries(r.home / "lib")
    (tmp_path / "libbroken.so").write_bytes(b"not an ELF file")
    assert survival_r.preload_shared_libraries(tmp_path) == []


def test_starting_r_leaves_child_processes_a_sane_library_path(r):
    # rpy2 puts R's ldpaths (/usr/lib/x86_64-linux-gnu first) into LD_LIBRARY_PATH; a child
    # Python from pyenv then loaded Debian's libpython and `import ssl` failed.
    parts = os.environ["LD_LIBRARY_PATH"].split(os.pathsep)
    assert parts[0] == str(r.home / "lib")
    assert "/usr/lib/x86_64-linux-gnu" not in parts
    child = subprocess.run([sys.executable, "-c", "import ssl, boto3; print('ok')"],
                           capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "ok", child.stderr


def test_the_running_r_is_the_one_found_and_has_survival(r):
    assert os.environ["R_HOME"] == str(r.home)
    assert r.r_version.startswith("R version 4.")
    assert r.survival_version.count(".") >= 1
    assert r.console == []  # library(survival) printed nothing unexpected


# --- numbers: equal to Rscript's ----------------------------------------------------------


def _api_pairs(results):
    return [(row.hazard, row.pval) for row in results]


def _check_against_rscript(r, cohorts, times, events, rows):
    expected = cohorts.rscript_statistics(times, events, rows)
    got = _api_pairs(r.cox_rows(times, events, rows))
    assert got == expected
    return got


def test_hand_typed_cohort_equals_rscript(r, cohorts):
    times = [120, 250, 310, 400, 480, 600, 720, 850, 900, 1100, 1300, 1500]
    events = [1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0]
    rows = [[3.1, 2.4, 1.0, 2.9, 1.8, 0.7, 2.2, 1.1, 1.5, 0.4, 0.9, 0.3],
            [0.5, 1.2, 0.8, 0.3, 1.1, 0.9, 0.6, 1.4, 0.7, 1.0, 0.2, 1.3]]
    got = _check_against_rscript(r, cohorts, [float(t) for t in times], events, rows)
    # Gene A (high in the early recurrences) raises the hazard; gene B does not matter.
    assert got[0][0] > 1 and got[0][1] < got[1][1]


@pytest.mark.parametrize(
    ("seed", "samples", "genes", "whole_days"),
    [(11, 60, 6, False), (12, 200, 8, True), (13, 25, 4, True)],
)
def test_synthetic_cohorts_equal_rscript(r, cohorts, seed, samples, genes, whole_days):
    c = cohorts.synthetic_cohort(seed, samples, genes, effects=(0.8, -0.5),
                                 whole_days=whole_days)
    got = _check_against_rscript(r, cohorts, c.times, c.events, c.rows)
    assert all(h is not None and p is not None for h, p in got)


def test_extreme_scales_and_few_events_equal_rscript(r, cohorts):
    c = cohorts.synthetic_cohort(14, 80, 3, effects=(0.4,), event_rate=1 / 20000)
    rows = [[v * 1e6 for v in c.rows[0]], [v * 1e-6 - 3 for v in c.rows[1]],
            [float(round(v)) for v in c.rows[2]]]  # a few distinct levels, many ties
    times = [t / 1000 for t in c.times]
    assert 1 <= sum(c.events) <= 15
    got = _check_against_rscript(r, cohorts, times, c.events, rows)
    # Values of scale 1e-6: exp(coef) overflows, the p-value (scale-free) is still R's.
    assert got[1][0] is None and 0 < got[1][1] < 1
    assert "beyond double precision" in r.cox_rows(times, c.events, rows)[1].error
    assert got[0][0] is not None and got[2][0] is not None


@pytest.mark.slow
def test_the_benchmark_shape_480_by_20_equals_rscript(r, cohorts):
    c = cohorts.synthetic_cohort(2017, 480, 20, effects=(0.7,))
    got = _check_against_rscript(r, cohorts, c.times, c.events, c.rows)
    assert got[0][0] > 1.5 and got[0][1] < 1e-10


# --- numbers: a Cox fit from first principles -------------------------------------------------


def _cox_by_hand(times, events, x):
    """Hazard ratio and robust (per-subject cluster) p-value of a one-covariate Cox model.

    Untied times only (then Efron's and Breslow's likelihoods are the same). Newton-Raphson on
    the partial likelihood; the robust variance is I^-1 (sum of squared score residuals) I^-1.
    """
    order = np.argsort(times)
    t, d, x = np.asarray(times)[order], np.asarray(events)[order], np.asarray(x)[order]
    assert len(set(t)) == len(t)
    x = x - x.mean()  # coxph centres too; the estimate does not change
    beta = 0.0
    for _ in range(100):
        w = np.exp(beta * x)
        s0 = np.cumsum(w[::-1])[::-1]  # sum over the risk set {j: t_j >= t_i}
        s1 = np.cumsum((w * x)[::-1])[::-1]
        s2 = np.cumsum((w * x * x)[::-1])[::-1]
        xbar = s1 / s0
        score = np.sum(d * (x - xbar))
        info = np.sum(d * (s2 / s0 - xbar**2))
        step = score / info
        beta += step
        if abs(step) < 1e-15 * max(1.0, abs(beta)):
            break
    w = np.exp(beta * x)
    s0 = np.cumsum(w[::-1])[::-1]
    xbar = np.cumsum((w * x)[::-1])[::-1] / s0
    info = np.sum(d * (s2 / s0 - xbar**2))
    # Score residual of subject k: its own event term minus its share of every earlier event.
    share = np.cumsum(d / s0)
    share_x = np.cumsum(d * xbar / s0)
    resid = d * (x - xbar) - w * (x * share - share_x)
    robust_se = math.sqrt(np.sum(resid**2)) / info
    z = beta / robust_se
    return math.exp(beta), math.erfc(abs(z) / math.sqrt(2))


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_r_agrees_with_a_cox_fit_by_hand(r, cohorts, seed):
    c = cohorts.synthetic_cohort(seed, 40, 3, effects=(1.0, 0.3), whole_days=False)
    for row, result in zip(c.rows, r.cox_rows(c.times, c.events, c.rows), strict=True):
        hazard, pval = _cox_by_hand(c.times, c.events, row)
        assert result.hazard == pytest.approx(hazard, rel=1e-9)
        assert result.pval == pytest.approx(pval, rel=1e-7)


def test_a_tiny_cohort_solved_on_paper(r):
    # (t, event, x): (1,1,1) (2,1,0) (3,1,1) (4,1,0). With u = e^b the partial likelihood is
    # u/(2u+2) * 1/(u+2) * u/(u+1) * 1; its score 2 - 2u/(u+1) - u/(u+2) is zero where
    # u^2 - u - 4 = 0, so the hazard ratio is (1 + sqrt(17)) / 2.
    (row,) = r.cox_rows([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], [[1.0, 0.0, 1.0, 0.0]])
    assert row.error is None
    assert row.hazard == pytest.approx((1 + math.sqrt(17)) / 2, rel=1e-9)
    _, pval = _cox_by_hand([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], [1.0, 0.0, 1.0, 0.0])
    assert row.pval == pytest.approx(pval, rel=1e-7)
    assert 0 < row.pval < 1


# --- rows R cannot fit --------------------------------------------------------------------


def test_a_constant_row_fails_alone(r, cohorts):
    c = cohorts.synthetic_cohort(31, 50, 2)
    results = r.cox_rows(c.times, c.events, [c.rows[0], [4.2] * 50, c.rows[1]])
    assert [row.error is None for row in results] == [True, False, True]
    bad = results[1]
    assert (bad.hazard, bad.pval) == (None, None)
    assert "constant" in bad.error
    expected = cohorts.rscript_statistics(c.times, c.events, c.rows)
    assert _api_pairs([results[0], results[2]]) == expected
    assert cohorts.rscript_statistics(c.times, c.events, [[4.2] * 50]) == [(None, None)]


def test_a_row_that_does_not_converge_is_an_error_with_r_words(r, cohorts):
    times = [float(t) for t in range(1, 11)]
    events = [1, 1, 1, 0, 1, 0, 1, 0, 0, 0]
    # Every event has a higher value than anyone still at risk: the MLE is infinite.
    separated = [10.0, 9.0, 8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 4.0, 5.0]
    fine = [0.3, 0.1, 0.5, 0.2, 0.9, 0.4, 0.8, 0.6, 0.7, 1.0]
    bad, good = r.cox_rows(times, events, [separated, fine])
    assert (bad.hazard, bad.pval) == (None, None)
    assert "did not converge" in bad.error and bad.warning
    assert "Ran out of iterations" in bad.error  # R's own message is passed on
    # R still prints numbers for it (a huge hazard, p = 0), which is why they are withheld.
    (h, p, warned), _ = cohorts.rscript_fits(times, events, [separated, fine])
    assert warned and h > 1e6 and p == 0.0
    assert (good.hazard, good.pval) == cohorts.rscript_statistics(times, events, [fine])[0]
    assert good.error is None and good.warning is None


# --- Kaplan-Meier plots -------------------------------------------------------------------


def test_km_plot_draws_both_curves_and_matches_survdiff(r, cohorts, png_check):
    c = cohorts.synthetic_cohort(41, 120, 1, effects=(1.0,))
    cutoff = r.median(c.rows[0])
    plot = r.km_plot(c.times, c.events, c.rows[0], cutoff, width=640, height=480, title="t")
    reference = cohorts.rscript_logrank(c.times, c.events, c.rows[0])
    assert plot.cutoff == reference["cutoff"] == float(np.median(c.rows[0]))
    assert plot.logrank_pval == reference["pval"]
    assert plot.sizes == reference["sizes"] == (60, 60)
    assert plot.events == reference["events"]
    assert sum(plot.events) == sum(c.events)
    image = png_check.decode(plot.png)
    assert (image.width, image.height) == (640, 480)
    assert image.count(png_check.LOW_COLOUR) > 100
    assert image.count(png_check.HIGH_COLOUR) > 100


def test_km_plot_with_a_given_cutoff_matches_survdiff(r, cohorts):
    c = cohorts.synthetic_cohort(42, 90, 1, effects=(0.5,))
    cutoff = 0.5
    before = set(Path(tempfile.gettempdir()).glob("tmp*.png"))
    plot = r.km_plot(c.times, c.events, c.rows[0], cutoff)
    assert set(Path(tempfile.gettempdir()).glob("tmp*.png")) == before  # no file left behind
    reference = cohorts.rscript_logrank(c.times, c.events, c.rows[0], cutoff="0.5")
    assert plot.logrank_pval == reference["pval"]
    assert plot.sizes == reference["sizes"]
    assert plot.sizes[1] == sum(1 for v in c.rows[0] if v > cutoff)
