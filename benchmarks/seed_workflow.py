"""The seed's Sonar workflow, leanfit against R's caret side by side in one run (issue 2 figures).

Prints per step: caret's time, leanfit's median time over --repeats runs and the ratio; the
resampled ROC of the chosen gbm / SVM / glmnet against caret's on the same partition and the same
resample indices (caret's own, from reference/caret_sonar_folds.json); fits per resample;
orchestration overhead; import and --help times; peak memory of the whole CLI workflow.

    python benchmarks/seed_workflow.py                # caret once + leanfit 3 times
    python benchmarks/seed_workflow.py --no-caret     # leanfit only
Needs R + caret for the reference (see reference/caret_seed_bench.R for the Debian packages).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent


def run_caret() -> tuple[dict[str, float], dict[str, float]]:
    """Run the R reference; return its TIME and RESULT lines."""
    if not shutil.which("Rscript"):
        print("Rscript not found: install R and caret (see reference/caret_seed_bench.R)")
        return {}, {}
    out = subprocess.run(
        ["Rscript", str(HERE / "reference" / "caret_seed_bench.R")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = {m[1]: float(m[2]) for m in re.finditer(r"^TIME (\S+) ([\d.]+)", out, re.M)}
    results = {m[1]: float(m[2]) for m in re.finditer(r"^RESULT (\S+) ([\d.]+)", out, re.M)}
    return times, results


def run_leanfit(n_jobs: int) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """The same workflow through the Python API, on caret's partition and resample indices."""
    import leanfit as lf
    from leanfit.tuning.train import plan_train, run_plan

    ref = json.loads((HERE / "reference" / "caret_sonar_folds.json").read_text())
    sonar = lf.datasets.load("sonar")
    training = sonar.iloc[ref["train_rows"]].reset_index(drop=True)
    testing = sonar.drop(sonar.index[ref["train_rows"]])
    idx = ref["index"]
    fit_ctl = lf.Control(method="repeatedcv", number=10, repeats=10, index=idx, n_jobs=n_jobs)
    roc_ctl = lf.Control(
        method="repeatedcv",
        number=10,
        repeats=10,
        index=idx,
        n_jobs=n_jobs,
        class_probs=True,
        summary="two_class",
    )
    grid = lf.expand_grid(
        interaction_depth=[1, 5, 9], n_trees=range(50, 1501, 50), shrinkage=0.1, n_minobsinnode=20
    )
    steps = {
        "gbmFit1": dict(method="gbm", control=fit_ctl),
        "gbmFit2": dict(method="gbm", control=fit_ctl, grid=grid),
        "gbmFit3": dict(method="gbm", control=roc_ctl, grid=grid, metric="ROC"),
        "svmFit": dict(
            method="svm_radial",
            control=roc_ctl,
            preprocess=["center", "scale"],
            tune_length=8,
            metric="ROC",
        ),
        "glmnetFit": dict(
            method="glmnet",
            control=roc_ctl,
            preprocess=["center", "scale"],
            tune_length=4,
            metric="ROC",
        ),
        "gbmFit4": dict(
            method="gbm",
            control=lf.Control(method="none", class_probs=True),
            grid=dict(interaction_depth=[4], n_trees=[100], shrinkage=[0.1], n_minobsinnode=[20]),
        ),
        "rdaFit": dict(method="rda", control=roc_ctl, tune_length=4, metric="ROC"),
    }
    times, quality, extra = {}, {}, {}
    t_all = time.perf_counter()
    for name, kw in steps.items():
        t0 = time.perf_counter()
        plan = plan_train("Class ~ .", data=training, seed=825, **kw)
        res = run_plan(plan, t0)
        if name == "gbmFit4":
            res.predict(testing.head()), res.predict_proba(testing.head())
        times[name] = time.perf_counter() - t0
        if name == "rdaFit":
            continue  # no caret counterpart here (klaR is not packaged); not in the total
        if res.scores is not None:
            quality[name] = float(res.results[res.metric].iloc[res.best_index])
        if name == "gbmFit2":
            s = res.scores
            ideal = (s.fit_time + s.predict_time) / fit_ctl.workers
            extra["gbmFit2_fits_per_resample"] = plan.fits_per_resample
            extra["gbmFit2_tasks"] = len(plan.tasks)
            extra["gbmFit2_overhead_ratio"] = res.times["resampling"] / ideal
            extra["gbmFit2_overhead_total"] = res.times["everything"] / ideal
    times["total"] = time.perf_counter() - t_all - times["rdaFit"]
    return times, quality, extra


def median_cmd_time(cmd: list[str], n: int = 7) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _tree_memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) summed over a process and all its descendants, from /proc.

    PSS counts each shared page (numpy, LightGBM, ... loaded by every worker) once in total,
    so it is the tree's real footprint; summed RSS counts shared pages once per process.
    """
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
    rss = pss = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def peak_memory_mb(n_jobs: int) -> tuple[float, float]:
    """Peak (summed RSS, PSS) of `leanfit run examples/sonar.yaml` and its worker processes."""
    proc = subprocess.Popen(
        [
            str(BIN / "leanfit"),
            "run",
            str(ROOT / "examples" / "sonar.yaml"),
            "-q",
            "-j",
            str(n_jobs),
            "-o",
            "/tmp/leanfit-bench-out",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak_rss = peak_pss = 0
    while proc.poll() is None:
        rss, pss = _tree_memory_kb(proc.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.1)
    return peak_rss / 1024, peak_pss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="leanfit runs (median reported)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--no-caret", action="store_true", help="skip the R reference")
    args = ap.parse_args()

    caret_t, caret_q = ({}, {}) if args.no_caret else run_caret()
    runs = [run_leanfit(args.n_jobs) for _ in range(args.repeats)]
    lf_t = {k: statistics.median(r[0][k] for r in runs) for k in runs[0][0]}
    quality, extra = runs[0][1], runs[0][2]

    print(
        f"\nSeed workflow on Sonar: leanfit (n_jobs={args.n_jobs}, median of {args.repeats}) "
        f"vs caret (1 run, sequential as the seed runs it)"
    )
    print(f"{'step':<11}{'caret s':>9}{'leanfit s':>11}{'ratio':>8}")
    for k, v in lf_t.items():
        c = caret_t.get(k)
        ratio = f"{c / v:7.1f}x" if c else "      -"
        print(f"{k:<11}{(f'{c:9.2f}' if c else '        -')}{v:11.2f}{ratio}")
    print("  (rdaFit has no caret run here: klaR is not packaged; it is not in the total)")

    print("\nResampled metric of the chosen candidate, same partition and resample indices:")
    pairs = [
        ("gbmFit2", "Accuracy", "gbmFit2_Accuracy"),
        ("gbmFit3", "ROC", "gbmFit3_ROC"),
        ("svmFit", "ROC", "svmFit_ROC"),
        ("glmnetFit", "ROC", "glmnetFit_ROC"),
    ]
    for step, metric, key in pairs:
        c = caret_q.get(key)
        diff = f"{quality[step] - c:+.4f}" if c is not None else "-"
        print(
            f"  {step:<10}{metric:<9} leanfit {quality[step]:.4f}   caret "
            f"{(f'{c:.4f}' if c is not None else '-'):>6}   diff {diff}"
        )

    print(
        f"\ngbmFit2: {extra['gbmFit2_fits_per_resample']} fits per resample, "
        f"{extra['gbmFit2_tasks']} tasks; orchestration overhead = resampling wall time / "
        f"((engine fit + predict time) / workers) = {extra['gbmFit2_overhead_ratio']:.2f}"
    )
    imp = median_cmd_time([sys.executable, "-c", "import leanfit"])
    hlp = median_cmd_time([str(BIN / "leanfit"), "--help"])
    print(
        f"import leanfit: {imp:.3f} s   leanfit --help: {hlp:.3f} s   (median of 7, incl. "
        "interpreter start)"
    )
    rss, pss = peak_memory_mb(args.n_jobs)
    print(
        f"peak memory of `leanfit run examples/sonar.yaml -j {args.n_jobs}`, all processes: "
        f"{pss:.0f} MB PSS (shared pages counted once), {rss:.0f} MB summed RSS"
    )


if __name__ == "__main__":
    main()
