"""Renewal figures (issue 18): retrain on Sonar with drifted copies of new data. Prints the
champion and the challenger (ROC on the same resamples of the new rows), the paired t-test and
the corrected t-test, the decision and the wall time, per scenario; the reference is the wall
time of the original `leanfit run` of the experiment in the same run (ratio = retrain / run).

Sonar is split once (stratified, seeded): 60 % of the rows are the old data the champion is
trained on, the other 40 % the new rows it never saw. Scenarios for the new rows:
  none      as they are (no drift): the champion should be kept or the two close;
  shift     20 columns (V1-V20) shifted by +2 standard deviations (covariate drift);
  relabel   the classes of the rows with V11 above its 60th percentile swapped (concept drift).
The p-value is checked against scipy's paired t-test on the printed per-resample values.

    python benchmarks/retrain.py [--folds 10] [--margin 0.0]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import pandas as pd
from scipy import stats

import leanfit as lf
from leanfit.cli import main

CONFIG = """\
name: sonar-renewal
data: old.csv
formula: Class ~ .
controls:
  cv: {{method: cv, number: {folds}, seed: 11, class_probs: true, summary: two_class}}
fits:
  ldaFit: {{method: lda, control: cv, metric: ROC}}
  knnFit: {{method: knn, control: cv, metric: ROC, tune_length: 4}}
"""


def drifted(new: pd.DataFrame, old: pd.DataFrame, how: str) -> pd.DataFrame:
    out = new.copy()
    if how == "shift":
        for c in [f"V{j}" for j in range(1, 21)]:
            out[c] = out[c] + 2.0 * old[c].std()
    elif how == "relabel":
        hit = out["V11"] > out["V11"].quantile(0.6)
        out.loc[hit, "Class"] = out.loc[hit, "Class"].map({"M": "R", "R": "M"})
    return out


def main_(folds: int, margin: float) -> None:
    sonar = lf.datasets.load("sonar")
    rows = lf.partition(sonar["Class"], p=0.6, seed=2026)
    old = sonar.iloc[rows].reset_index(drop=True)
    new = sonar.drop(sonar.index[rows]).reset_index(drop=True)
    print(f"Sonar: {len(old)} old rows (champion), {len(new)} new rows; {folds}-fold CV, ROC")
    for how in ("none", "shift", "relabel"):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            old.to_csv(d / "old.csv", index=False)
            drifted(new, old, how).to_csv(d / "new.csv", index=False)
            (d / "exp.yaml").write_text(CONFIG.format(folds=folds))
            url = f"sqlite:///{d / 'store.db'}"
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # its caret-like tables
                assert main(["run", str(d / "exp.yaml"), "--store", url, "-q"]) == 0
            t_run = time.perf_counter() - t0
            r = lf.retrain(
                d / "exp.yaml",
                d / "new.csv",
                store=url,
                margin=margin,
                bundle=d / "model.lfb",
                echo=lambda s: None,
            )
            scipy_p = stats.ttest_rel(r.values["challenger"], r.values["champion"]).pvalue
            print(f"\n== drift: {how}")
            print(f"  champion   {r.fit} (run {r.champion_run}): ROC {r.champion:.4f}")
            print(f"  challenger {r.fit} (run {r.challenger_run}): ROC {r.challenger:.4f}")
            print(
                f"  paired t-test p = {r.p_value:.4g} (scipy ttest_rel {scipy_p:.4g}); "
                f"corrected t-test p = {r.p_value_corrected:.4g}"
            )
            print(f"  decision: {r.decision}")
            kept = sorted(p.name for p in d.glob("model*.lfb"))
            print(f"  bundles: {kept}")
            print(
                f"  wall time: retrain {r.wall_seconds:.2f} s (target: report); reference "
                f"`leanfit run` {t_run:.2f} s; ratio {r.wall_seconds / t_run:.2f}"
            )
            print("  steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in r.times.items()))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--margin", type=float, default=0.0)
    a = ap.parse_args()
    main_(a.folds, a.margin)
