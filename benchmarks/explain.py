"""TreeSHAP on the Letter LightGBM teacher: lf.explain's time for 1 000 rows and its additivity
error, against the shap library's TreeExplainer on the same booster, in one run; then
lf.explain(classes="predicted") (each row's predicted class only: only that class's trees are
walked), and the libraries evaluated as faster exact TreeSHAP, where installed:
WOODELF (pip install woodelf-explainer; one class per explainer, so all 26 are timed) and
Fast TreeSHAP v2 (fasttreeshap_fixed; it requires the CUDA `xgboost` package, which clashes
with xgboost-cpu, so install it with --no-deps --target DIR and put DIR on PYTHONPATH).

Letter (the bundled letterrecognition data): the first 16 000 rows train, 1 000 of the last
4 000 are explained (26 classes: one attribution per row, column and class, on the softmax
margins). The teacher is the largest candidate of benchmarks/distill_letter.py's grid (600
rounds x 26 classes, 31 leaves, learning rate 0.1), fitted once; ``--tune`` tunes it by 3-fold
CV as distill_letter.py does. Times are medians of ``--repeats`` runs, each a fit's first
explanation (its trees read too) unless said otherwise; the additivity error is
max |attributions + base - LightGBM's raw score| over rows and classes, the raw score
computed by the booster itself. shap's values are compared with lf.explain's.

    python benchmarks/explain.py [--rows 1000] [--repeats 3] [--tune] [--no-libraries]

Neither library is used by leanfit: WOODELF computes in float32 (its values differ from
LightGBM's by ~1e-5, over the 1e-6 target) and Fast TreeSHAP v2 misreads a multiclass LightGBM
Booster as one output (so it is timed on all trees as one output, the same tree work, and
checked against LightGBM's contributions summed over the classes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np

TARGETS = {"seconds": ("<=", 2.0), "additivity": ("<=", 1e-6)}


def _line(name: str, value: float, unit: str = "") -> None:
    op, target = TARGETS[name]
    ok = value <= target
    print(
        f"  {name:<12} {value:.3g}{unit}  target {op} {target:g}{unit}  {'OK' if ok else 'MISSED'}"
    )


def _median_time(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall seconds of ``repeats`` calls and median CPU seconds of this process (on a
    shared machine the wall time counts other jobs too), and the last call's result."""
    times, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu), out


def _cpu(seconds: float) -> None:
    print(f"  (median CPU seconds of this process: {seconds:.3g})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tune", action="store_true", help="tune the teacher as distill_letter.py")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-libraries", action="store_true", help="skip WOODELF and Fast TreeSHAP")
    args = ap.parse_args()

    import leanfit as lf

    letter = lf.datasets.load("letter")
    train, test = letter.iloc[:16_000], letter.iloc[16_000:]
    rows = test.drop(columns="lettr").iloc[: args.rows]
    print(
        f"Letter: {len(train)} training rows, {args.rows} explained; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} (wall times count other jobs: see CPU seconds)"
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.tune:
            from distill_letter import tuned_teacher

            fit = tuned_teacher(train, args.seed)
        else:
            grid = lf.expand_grid(
                n_estimators=600, num_leaves=31, learning_rate=0.1, min_child_samples=10
            )
            fit = lf.train(
                train,
                "lettr",
                method="lightgbm",
                grid=grid,
                control=lf.Control(method="none"),
                seed=args.seed,
            )
    booster = fit.final_model
    print(
        f"teacher: LightGBM {fit.best_params} fitted in {time.perf_counter() - t0:.0f} s "
        f"({booster.num_trees()} trees)"
    )

    def first(**kw):
        """lf.explain as a fit's first explanation: the booster's trees are read too."""
        fit.explain_cache = None
        return lf.explain(fit, rows, **kw)

    secs, cpu, e = _median_time(first, args.repeats)
    X = rows.to_numpy(dtype=float)
    count = int(fit.best_params["n_estimators"])
    raw = booster.predict(X, raw_score=True, num_iteration=count)
    additivity = float(np.abs(e.values.sum(axis=1) + e.base - raw).max())
    print(
        f"\nlf.explain ({e.method}), {args.rows} rows x {e.values.shape[1]} columns x "
        f"{e.values.shape[2]} classes:"
    )
    _line("seconds", secs, " s")
    _line("additivity", additivity)
    _cpu(cpu)

    secs1, cpu1, e1 = _median_time(lambda: first(classes="predicted"), args.repeats)
    pred = np.argmax(raw, axis=1)
    cols = [e1.outputs.index(fit.dataset.levels[c]) for c in pred]
    mine = e1.values[np.arange(len(X)), :, cols]
    theirs = e.values[np.arange(len(X)), :, pred]
    print(
        f"\nlf.explain(classes='predicted') ({e1.method}), each row's predicted class only "
        f"({len(e1.outputs)} classes predicted):"
    )
    _line("seconds", secs1, " s")
    _line("additivity", e1.additivity_error())
    print(f"  max |value - all-class value| {float(np.abs(mine - theirs).max()):.2e}")
    print(f"  all classes / one class time: {secs / secs1:.1f}x")
    _cpu(cpu1)
    again, cpu2, _ = _median_time(lambda: lf.explain(fit, rows, classes="predicted"), args.repeats)
    print("  again on the same fit (its trees already read):")
    _line("seconds", again, " s")
    _cpu(cpu2)

    try:
        import shap
    except ImportError:
        print("\nshap is not installed: no reference time (pip install 'leanfit[explain]')")
    else:
        explainer = shap.TreeExplainer(booster)
        ref_secs, ref_cpu, ref = _median_time(
            lambda: np.asarray(explainer.shap_values(X), dtype=float), args.repeats
        )
        gap = float(np.abs(np.asarray(ref) - e.values).max())
        print(f"\nshap {shap.__version__} TreeExplainer on the same booster and rows:")
        print(f"  seconds      {ref_secs:.3g} s  (lf.explain is {ref_secs / secs:.2f}x its speed)")
        print(f"  max |shap - lf.explain| {gap:.2e}")
        _cpu(ref_cpu)
    if not args.no_libraries:
        _woodelf(booster, rows, e, raw)
        _fasttreeshap(booster, X, e)


def _woodelf(booster, rows, e, raw) -> None:
    """WOODELF's path-dependent SHAP, one class at a time (its explainer explains one)."""
    try:
        from woodelf import WoodelfExplainer
        from woodelf.core.trees.parse_models import load_decision_tree_ensemble_model
    except ImportError:
        print("\nWOODELF is not installed (pip install woodelf-explainer): not timed")
        return
    import pandas as pd

    df = pd.DataFrame(rows.to_numpy(dtype=float), columns=booster.feature_name())
    k_all = e.values.shape[2]
    out = np.zeros_like(e.values)
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(k_all):
        model = load_decision_tree_ensemble_model(booster, booster.feature_name(), class_index=k)
        out[:, :, k] = WoodelfExplainer(model).shap_values(df, verbose=False)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    gap = float(np.abs(out - e.values).max())
    additivity = float(np.abs(out.sum(axis=1) + e.base - raw).max())
    print(f"\nWOODELF (woodelf-explainer), all {k_all} classes, one run (CPU {cpu:.3g} s):")
    _line("seconds", secs, " s")
    _line("additivity", additivity)
    print(f"  max |WOODELF - LightGBM pred_contrib| {gap:.2e}")


def _fasttreeshap(booster, X, e) -> None:
    """Fast TreeSHAP v2 on all the trees as one output (see the module's docstring)."""
    try:
        import fasttreeshap_fixed as fts
    except ImportError:
        print("\nfasttreeshap_fixed is not importable (see the module's docstring): not timed")
        return
    t0, c0 = time.perf_counter(), time.process_time()
    ex = fts.TreeExplainer(booster, algorithm="v2", n_jobs=os.cpu_count() or 1)
    v = np.asarray(ex.shap_values(X, check_additivity=False), dtype=float)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    gap = float(np.abs(v - e.values.sum(axis=2)).max())
    print(f"\nFast TreeSHAP v2 (fasttreeshap_fixed), all trees, one run (CPU {cpu:.3g} s):")
    _line("seconds", secs, " s")
    print(f"  max |Fast TreeSHAP - LightGBM pred_contrib summed over classes| {gap:.2e}")


if __name__ == "__main__":
    main()
