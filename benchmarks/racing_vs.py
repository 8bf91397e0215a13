"""Racing against the full grid, caret's adaptive_cv and scikit-learn's HalvingGridSearchCV, and
nested CV (issue 14 figures). One run prints every figure with its target.

(a) The seed's gbmFit3 (gbm, 90 candidates = interaction.depth 1/5/9 x n.trees 50..1500, 3 fit
    groups; 10x10 CV on caret's Sonar partition and resample indices; ROC):
    - leanfit's full grid, successive halving (adaptive method "halving", min 5, eta 3, with and
      without ``complete``) and caret's gls futility test, each a real run: fits (a fit group on
      one resample is one fit), wall time, chosen candidate, ROC loss against the full grid;
    - the same rules over ``--seeds`` seeds (825 on caret's folds, then 1, 2, ...: leanfit's own
      10x10 CV with that seed): the full grid runs once per seed, and each rule's race is
      replayed on its (100 x 90) ROC matrix with ``racing.race`` itself. The replay is exact
      (every task's seed and rows are fixed by the plan, so a group's scores do not depend on
      which other groups raced); the real runs on seed 825 are checked against their replays.
      ``--matrices DIR`` keeps each seed's full-grid matrix there and reuses it when present.
    - caret in R in the same run (reference/caret_racing.R): gbmFit3's full grid and caret's own
      adaptive_cv (min 5, alpha 0.05, gls, complete) on the same grid: time, fits, choice.
(b) scikit-learn's HalvingGridSearchCV (racing over rows, factor 3, 10-fold CV, roc_auc) on the
    same grid and training rows, with LightGBM's scikit-learn classifier set up as leanfit's gbm
    (num_leaves = depth + 1, bagging 0.5, min 20 rows per leaf, L2 1): wall time and the chosen
    candidate's ROC on the 51 held-out test rows, beside leanfit's halving and full grid.
(c) Nested CV on Sonar gbm (all 208 rows; outer 5-fold CV; inner train() with gbm's default
    3 x 3 grid on 10-fold CV, ROC): the outer (honest) estimate next to the inner one.

    python benchmarks/racing_vs.py [--seeds 20] [--matrices DIR] [--n-jobs 1] [--skip-caret]
        [--parts a,b,c | seeds]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
HALVING = {"method": "halving", "min": 8, "eta": 3, "complete": False}
HEADLINE = "halving (min 8, eta 3, !complete)"
RULES: dict[str, dict[str, Any]] = {
    HEADLINE: HALVING,
    "halving (min 8, eta 3, complete)": {**HALVING, "complete": True},
    "halving (min 5, eta 3, !complete)": {**HALVING, "min": 5},
    "halving (min 8, eta 2, !complete)": {**HALVING, "eta": 2},
    "gls (caret's defaults)": {"method": "gls"},
    "gls (!complete)": {"method": "gls", "complete": False},
    # free: a candidate whose group is fitted anyway up to its n.trees is never stopped
    "halving (min 8, eta 3, free)": {**HALVING, "free": True},
    "halving (min 8, eta 2, free)": {**HALVING, "eta": 2, "free": True},
    "gls (free)": {"method": "gls", "free": True},
}
# the rules also run for real on caret's folds (the others are only replayed)
REAL = (
    HEADLINE,
    "halving (min 5, eta 3, !complete)",
    "halving (min 8, eta 3, free)",
    "gls (caret's defaults)",
    "gls (free)",
)


def _setup() -> tuple[Any, Any, Any, dict[str, Any]]:
    import leanfit as lf

    ref = json.loads((HERE / "reference" / "caret_sonar_folds.json").read_text())
    sonar = lf.datasets.load("sonar")
    training = sonar.iloc[ref["train_rows"]].reset_index(drop=True)
    testing = sonar.drop(index=ref["train_rows"]).reset_index(drop=True)
    grid = lf.expand_grid(
        interaction_depth=[1, 5, 9], n_trees=range(50, 1501, 50), shrinkage=0.1, n_minobsinnode=20
    )
    return training, testing, grid, ref


def _control(seed: int, ref: dict[str, Any], n_jobs: int, adaptive: dict[str, Any] | None) -> Any:
    import leanfit as lf

    kw: dict[str, Any] = dict(number=10, repeats=10, class_probs=True, summary="two_class")
    kw["n_jobs"] = n_jobs
    if seed == 825:
        kw["index"] = ref["index"]  # caret's own resample rows
    if adaptive is None:
        return lf.Control(method="repeatedcv", **kw)
    return lf.Control(method="adaptive_cv", adaptive=adaptive, **kw)


def _plan(training: Any, grid: Any, ctl: Any, seed: int) -> Any:
    from leanfit.tuning.train import plan_train

    return plan_train(
        "Class ~ .", data=training, method="gbm", control=ctl, grid=grid, metric="ROC", seed=seed
    )


def replay(plan: Any, roc: np.ndarray) -> tuple[int, int, dict[int, int]]:
    """The race ``plan`` would run, replayed on the full grid's (resamples, candidates) ROC:
    (fits, chosen candidate, stops). Uses ``racing.race`` itself; a "result" is the task."""
    from leanfit.tuning.racing import race

    n_res, n_c = roc.shape
    seen = np.zeros_like(roc, dtype=bool)
    groups = plan.context.groups

    def score(new: list[Any], now: Any) -> np.ndarray:
        for t in new:
            seen[t.resample, list(now[t.group].candidates)] = True
        return np.where(seen, roc, np.nan)

    def run(batch: list[Any], now: Any) -> Any:
        yield from batch

    trim = plan.model.prefix_submodels
    _, info = race(plan.tasks, groups, n_res, dict(plan.control.adaptive), True, score, run, trim)
    got = seen.sum(axis=0)
    for c, k in info.stopped.items():
        got[c] = k
    means = np.array([roc[: got[c], c].mean() for c in range(n_c)])
    alive = [c for c in range(n_c) if c not in info.stopped]
    # as TrainResult.select: among the candidates not stopped, those with the most resamples
    top = max(got[alive])
    alive = [c for c in alive if got[c] == top]
    chosen = alive[int(np.argmax(means[alive]))]
    return info.fits, chosen, info.stopped


def _trees(res: Any) -> int:
    """Trees a run fitted: per fit group and resample it was fitted on, the largest n.trees
    of its candidates scored there (a group is fitted only as far as its racing candidates
    need); a candidate got the first ``Resamples`` resamples."""
    t = res.results
    total = 0
    for _, rows in t.groupby("interaction_depth"):
        for r in range(int(rows["Resamples"].max())):
            total += int(rows.loc[rows["Resamples"] > r, "n_trees"].max())
    return total


def part_a(args: argparse.Namespace) -> dict[str, Any]:
    from leanfit.tuning.train import run_plan

    training, _, grid, ref = _setup()
    print("== (a) racing on gbmFit3: 90 candidates, 3 fit groups, 10x10 CV, ROC ==")
    real: dict[str, Any] = {}
    for name, adaptive in [("full grid", None), *((n, RULES[n]) for n in REAL)]:
        plan = _plan(training, grid, _control(825, ref, args.n_jobs, adaptive), 825)
        t0 = time.perf_counter()
        res = run_plan(plan, t0)
        wall = time.perf_counter() - t0
        counts = res.results["Resamples"].to_numpy()
        fits = sum(int(max(counts[list(g.candidates)])) for g in plan.context.groups)
        j = res.metric_names.index("ROC")
        roc = res.scores.values[:, :, j]
        real[name] = dict(plan=plan, res=res, wall=wall, fits=fits, roc=roc, trees=_trees(res))
    full = real["full grid"]
    full_roc = full["roc"].mean(axis=0)
    fb = full["res"].best_index
    for name, r in real.items():
        b = r["res"].best_index
        p = r["res"].best_params
        print(
            f"  {name:34s} fits {r['fits']:4d} ({300 / r['fits']:4.1f}x fewer), trees "
            f"{r['trees'] / 1000:5.1f}k ({full['trees'] / r['trees']:4.1f}x fewer)  wall "
            f"{r['wall']:6.2f} s  chosen depth={p['interaction_depth']} n.trees={p['n_trees']}"
            f"  full-grid ROC {full_roc[b]:.4f} (loss {full_roc[fb] - full_roc[b]:.4f})"
        )
        if name != "full grid":
            fits, chosen, stopped = replay(r["plan"], full["roc"])
            same = (fits, chosen, stopped) == (r["fits"], b, r["res"].stopped)
            print(f"      replay on the full grid's scores gives the same race: {same}")
    return real


def part_seeds(args: argparse.Namespace, full_roc: np.ndarray | None) -> None:
    from leanfit.tuning.train import run_plan

    training, _, grid, ref = _setup()
    print("== (a) the racing rules over seeds: the full grid once per seed, races replayed ==")
    # seeds: the full grid once per seed, every rule replayed on its scores
    seeds = [825, *range(1, args.seeds)]
    per_rule: dict[str, list[tuple[int, bool, float]]] = {n: [] for n in RULES}
    t_seeds = time.perf_counter()
    for s in seeds:
        cache = None if args.matrices is None else Path(args.matrices) / f"{s}.npy"
        if s == 825 and full_roc is not None:
            roc = full_roc
            if cache is not None and cache.exists():
                same = np.array_equal(np.load(cache), roc)
                print(f"  the cached seed-825 matrix equals this run's: {same}")
        elif cache is not None and cache.exists():
            roc = np.load(cache)
        else:
            plan = _plan(training, grid, _control(s, ref, args.n_jobs, None), s)
            res = run_plan(plan, time.perf_counter())
            roc = res.scores.values[:, :, res.metric_names.index("ROC")]
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.save(cache, roc)
        if cache is not None and not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, roc)
        means = roc.mean(axis=0)
        best = int(np.argmax(means))
        line = []
        for name, adaptive in RULES.items():
            plan = _plan(training, grid, _control(s, ref, 1, adaptive), s)
            fits, chosen, _ = replay(plan, roc)
            per_rule[name].append((fits, chosen == best, float(means[best] - means[chosen])))
            loss = "same" if chosen == best else f"{means[best] - means[chosen]:.4f}"
            line.append(f"{fits}/{loss}")
        print(f"  seed {s:3d}: fits/loss per rule {' '.join(line)}", flush=True)
    print(
        f"  over {len(seeds)} seeds (full grid per seed, races replayed; "
        f"{time.perf_counter() - t_seeds:.0f} s):"
    )
    for name, rows in per_rule.items():
        fits = np.array([r[0] for r in rows])
        same = np.array([r[1] for r in rows])
        loss = np.array([r[2] for r in rows])
        ok = same | (loss <= 0.002)
        print(
            f"  {name:34s} fits median {np.median(fits):5.1f} (ratio median "
            f"{300 / np.median(fits):4.1f}x, worst {300 / fits.max():4.1f}x; target >= 3x); "
            f"same choice {same.mean():4.0%} (target >= 95%); ROC loss where it differs: max "
            f"{loss[~same].max() if (~same).any() else 0.0:.4f} (target <= 0.002); seeds "
            f"meeting 'same or loss <= 0.002': {ok.sum()}/{len(ok)}",
            flush=True,
        )


def part_caret(real: dict[str, Any]) -> None:
    print("== (a) caret in R, same run: gbmFit3 and caret's adaptive_cv on the same grid ==")
    if not shutil.which("Rscript"):
        print("  Rscript not found: install R and caret (see reference/caret_seed_bench.R)")
        return
    out = subprocess.run(
        ["Rscript", str(HERE / "reference" / "caret_racing.R")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = {m[1]: float(m[2]) for m in re.finditer(r"^TIME (\S+) ([\d.]+)", out, re.M)}
    fits = {m[1]: int(m[2]) for m in re.finditer(r"^FITS (\S+) (\d+)", out, re.M)}
    chosen = {m[1]: (m[2], m[3]) for m in re.finditer(r"^CHOSEN (\S+) (\d+) (\d+)", out, re.M)}
    roc = {m[1]: float(m[2]) for m in re.finditer(r"^RESULT (\S+) ([\d.]+)", out, re.M)}
    for k in ("gbmFit3", "adaptive_cv"):
        print(
            f"  caret {k:12s} fits {fits[k]:4d} ({300 / fits[k]:4.1f}x fewer)  wall "
            f"{times[k]:7.2f} s  chosen depth={chosen[k][0]} n.trees={chosen[k][1]}  "
            f"ROC {roc[k]:.4f}"
        )
    for name, r in real.items():
        print(
            f"  leanfit {name:34s} wall {r['wall']:6.2f} s: {times['gbmFit3'] / r['wall']:5.1f}x "
            f"faster than caret's gbmFit3 (target >= 20x), "
            f"{times['adaptive_cv'] / r['wall']:5.1f}x faster than caret's adaptive_cv"
        )


def part_b(real: dict[str, Any], n_jobs: int) -> None:
    from lightgbm import LGBMClassifier
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import HalvingGridSearchCV, StratifiedKFold

    training, testing, _, _ = _setup()
    print("== (b) scikit-learn's HalvingGridSearchCV on the same grid and training rows ==")
    X, y = training.drop(columns="Class").to_numpy(), (training["Class"] == "M").to_numpy()
    Xt, yt = testing.drop(columns="Class").to_numpy(), (testing["Class"] == "M").to_numpy()
    est = LGBMClassifier(
        learning_rate=0.1,
        min_child_samples=20,
        subsample=0.5,
        subsample_freq=1,
        reg_lambda=1.0,
        max_depth=-1,
        verbose=-1,
        n_jobs=1,
        random_state=825,
    )
    grid = {"num_leaves": [2, 6, 10], "n_estimators": list(range(50, 1501, 50))}
    search = HalvingGridSearchCV(
        est,
        grid,
        factor=3,
        cv=StratifiedKFold(10, shuffle=True, random_state=825),
        scoring="roc_auc",
        random_state=825,
        n_jobs=n_jobs,
    )
    t0 = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - t0
    test_roc = roc_auc_score(yt, search.best_estimator_.predict_proba(Xt)[:, 1])
    bp = search.best_params_
    fits = int(np.sum(np.asarray(search.n_candidates_) * search.n_splits_))
    print(
        f"  HalvingGridSearchCV       wall {wall:7.2f} s  fits {fits}  chosen depth="
        f"{bp['num_leaves'] - 1} n.trees={bp['n_estimators']}  test ROC {test_roc:.4f}  "
        f"(rungs: {search.n_candidates_} candidates on {search.n_resources_} rows)"
    )
    for name in ("full grid", HEADLINE):
        r = real[name]
        prob = r["res"].predict_proba(testing)["M"].to_numpy()
        p = r["res"].best_params
        print(
            f"  leanfit {name:34s} wall {r['wall']:6.2f} s ({wall / r['wall']:4.1f}x faster "
            f"than HalvingGridSearchCV)  chosen depth={p['interaction_depth']} "
            f"n.trees={p['n_trees']}  test ROC {roc_auc_score(yt, prob):.4f}"
        )


def part_c(n_jobs: int) -> None:
    import leanfit as lf

    print("== (c) nested CV on Sonar gbm (outer 5-fold; inner 10-fold CV, default 3x3 grid) ==")
    sonar = lf.datasets.load("sonar")
    t0 = time.perf_counter()
    res = lf.nested(
        "Class ~ .",
        data=sonar,
        method="gbm",
        metric="ROC",
        control=lf.Control(
            method="cv", number=10, class_probs=True, summary="two_class", n_jobs=n_jobs
        ),
        outer=lf.Control(method="cv", number=5),
        seed=825,
    )
    print("  " + repr(res).replace("\n", "\n  "))
    (o, osd), (i, isd) = res.outer, res.inner
    print(
        f"  outer (honest) ROC {o:.4f} (SD {osd:.4f}) next to the inner (optimistic) "
        f"{i:.4f} (SD {isd:.4f}): optimism {i - o:+.4f}; {time.perf_counter() - t0:.0f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--matrices", default=None, help="folder keeping full-grid ROC matrices")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--skip-caret", action="store_true")
    ap.add_argument(
        "--parts", default="a,b,c", help="which of a, b, c to run; 'seeds': only (a)'s seeds"
    )
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    real = part_a(args) if "a" in parts or "b" in parts else {}
    if "a" in parts and not args.skip_caret:
        try:
            part_caret(real)
        except (subprocess.CalledProcessError, KeyError) as err:  # the other parts still run
            print(f"  caret's run failed: {err!r}")
    if "b" in parts:
        part_b(real, args.n_jobs)
    if "c" in parts:
        part_c(args.n_jobs)
    if ("a" in parts or "seeds" in parts) and args.seeds > 0:
        part_seeds(args, real["full grid"]["roc"] if real else None)


if __name__ == "__main__":
    main()
