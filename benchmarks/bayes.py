"""Bayesian search on leanfit's tasks, executors and store (issue 14 figures).

(a) a 6-parameter LightGBM space on Letter (a stratified subset of ``--rows`` rows, 3-fold CV):
    ``--trials`` TPE trials against a ``--random``-candidate random search; target: TPE's best
    resampled accuracy within 0.005 of random search's best.
(b) leanfit's per-trial overhead over Optuna's own loop (``study.optimize``) doing the same
    resampling: the same random-sampler candidates (one seed), the same folds and LightGBM
    fits, scored by accuracy; leanfit also stores every task in SQLite. Target <= 5 %.
    Medians over ``--repeats`` interleaved runs.
(c) 2 workers against 1: trials per minute on the LightGBM search of (b) (target >= 1.8x), and
    ``--big`` trials of a very cheap model (knn on Sonar, 3-fold CV; ``--big-sampler``, random
    by default: this part tests the store, and TPE's asks grow with the trials) with 2 workers
    into the store's SQLite: every task stored, no lock error (target: 0 errors). Workers send
    their results to this process, which alone writes to the store.

Each figure is printed with its target and the ratio against the reference measured in the
same run. Reduced scale by default (2 shared cores); the issue's scale is
``--rows 5000 --trials 40 --random 400 --big 1000``.

    python benchmarks/bayes.py [--parts abc] [--rows 2000] [--trials 40] [--random 400]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

LGBM_SPACE_ARGS = dict(
    n_estimators=(20, 150),
    num_leaves=(8, 64),
    learning_rate=(0.02, 0.3),
    min_child_samples=(5, 60),
    feature_fraction=(0.4, 1.0),
    bagging_fraction=(0.5, 1.0),
)


def lgbm_space():
    import leanfit as lf

    a = LGBM_SPACE_ARGS
    return {
        "n_estimators": lf.integer(*a["n_estimators"], log=True),
        "num_leaves": lf.integer(*a["num_leaves"], log=True),
        "learning_rate": lf.loguniform(*a["learning_rate"]),
        "min_child_samples": lf.integer(*a["min_child_samples"], log=True),
        "feature_fraction": lf.uniform(*a["feature_fraction"]),
        "bagging_fraction": lf.uniform(*a["bagging_fraction"]),
        "lambda_l1": 0.0,
        "lambda_l2": 0.0,
    }


def letter(rows: int, seed: int = 1):
    import leanfit as lf

    df = lf.datasets.load("letter")
    keep = lf.partition(df["lettr"], p=rows / len(df), seed=seed)
    return df.iloc[keep].reset_index(drop=True)


def part_a(args) -> None:
    import leanfit as lf

    data = letter(args.rows)
    print(
        f"(a) Letter, {len(data)} rows (stratified subset), 3-fold CV, 6-parameter LightGBM space"
    )
    out = {}
    for name, trials, sampler in (("tpe", args.trials, "tpe"), ("random", args.random, "random")):
        ctl = lf.Control(
            method="cv",
            number=3,
            search="bayes",
            sampler=sampler,
            budget=trials,
            n_jobs=args.n_jobs,
        )
        t0 = time.perf_counter()
        r = lf.train(data, "lettr", method="lightgbm", control=ctl, space=lgbm_space(), seed=11)
        wall = time.perf_counter() - t0
        acc = float(r.results["Accuracy"].max())
        out[name] = acc
        print(f"    {name:6s} {trials:4d} trials: best accuracy {acc:.4f}  ({wall:.0f} s)")
    gap = out["random"] - out["tpe"]
    print(
        f"    figure: accuracy gap random - TPE = {gap:+.4f}  target <= 0.005  "
        f"{'MET' if gap <= 0.005 else 'NOT MET'}"
    )


def optuna_loop(data, folds, trials: int, seed: int) -> tuple[float, float, list[dict]]:
    """Optuna's own loop (``study.optimize``, random sampler): each trial fits leanfit's
    lightgbm model on the same folds with the same engine work (the fit, its divergence check
    on the training rows, class probabilities of the held-out rows) and scores accuracy.
    Returns wall and CPU seconds and the candidates."""
    import optuna

    import leanfit as lf
    from leanfit.models.base import CLASSIFICATION, TrainingData

    X = data.drop(columns="lettr").to_numpy(dtype=float)
    y = data["lettr"].cat.codes.to_numpy().astype(np.int64)  # as leanfit encodes it
    levels = tuple(data["lettr"].cat.categories)
    model = lf.get_model("lightgbm")
    a = LGBM_SPACE_ARGS
    params_seen: list[dict] = []

    def objective(trial):
        p = {
            "n_estimators": trial.suggest_int("n_estimators", *a["n_estimators"], log=True),
            "num_leaves": trial.suggest_int("num_leaves", *a["num_leaves"], log=True),
            "learning_rate": trial.suggest_float("learning_rate", *a["learning_rate"], log=True),
            "min_child_samples": trial.suggest_int(
                "min_child_samples", *a["min_child_samples"], log=True
            ),
            "feature_fraction": trial.suggest_float("feature_fraction", *a["feature_fraction"]),
            "bagging_fraction": trial.suggest_float("bagging_fraction", *a["bagging_fraction"]),
            "lambda_l1": 0.0,
            "lambda_l2": 0.0,
        }
        params_seen.append({k: v for k, v in p.items() if not k.startswith("lambda")})
        subs = [{"n_estimators": p["n_estimators"]}]
        accs = []
        for k, (tr, te) in enumerate(folds):
            d = TrainingData(X=X[tr], y=y[tr], mode=CLASSIFICATION, levels=levels)
            fitted = model.fit(d, p, subs, k)
            model.check_fit(fitted, d, subs)
            prob = model.predict_proba(fitted, X[te], subs)[0]
            accs.append(float((prob.argmax(axis=1) == y[te]).mean()))
        return float(np.mean(accs))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed))
    t0, c0 = time.perf_counter(), time.process_time()
    from leanfit.pools import one_thread

    with one_thread():
        study.optimize(objective, n_trials=trials)
    return time.perf_counter() - t0, time.process_time() - c0, params_seen


def leanfit_run(data, trials: int, seed: int, n_jobs: int, store_path: Path | None):
    import leanfit as lf
    from leanfit.store import Store

    store = None if store_path is None else Store.open(f"sqlite:///{store_path}")
    ctl = lf.Control(
        method="cv", number=3, search="bayes", sampler="random", budget=trials, n_jobs=n_jobs
    )
    t0, c0 = time.perf_counter(), time.process_time()
    r = lf.train(
        data, "lettr", method="lightgbm", control=ctl, space=lgbm_space(), seed=seed, store=store
    )
    final = r.times.get("final", 0.0)  # the search is measured, not the refit on all rows
    wall = time.perf_counter() - t0 - final
    cpu = time.process_time() - c0 - final
    if store is not None:
        store.close()
    return wall, cpu, r


def part_b(args) -> None:
    data = letter(args.rows)
    seed = 5
    opt_seed = int(np.random.SeedSequence([seed, 7]).generate_state(1)[0])  # leanfit's
    print(
        f"(b) per-trial overhead: {args.overhead_trials} random-sampler LightGBM trials, "
        f"{len(data)} Letter rows, 3-fold CV, one process"
    )
    lean, opt, lean_cpu, opt_cpu = [], [], [], []
    same = None
    leanfit_run(data, 2, seed, 1, None)  # imports and engine warm-up, not measured
    for k in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            w, c, r = leanfit_run(data, args.overhead_trials, seed, 1, Path(tmp) / f"s{k}.db")
        folds = [(tr, te) for _, tr, te in r.resamples]
        wo, co, seen = optuna_loop(data, folds, args.overhead_trials, opt_seed)
        lean.append(w)
        opt.append(wo)
        lean_cpu.append(c)
        opt_cpu.append(co)
        got = r.results[list(seen[0])].to_dict("records")
        same = all(
            all(np.isclose(a[k2], b[k2]) for k2 in a) for a, b in zip(got, seen, strict=True)
        )
        print(
            f"    run {k + 1}: leanfit {w:.2f} s wall / {c:.2f} s CPU, optuna loop {wo:.2f} s "
            f"wall / {co:.2f} s CPU"
        )
    n = args.overhead_trials
    print(f"    same candidates in both loops: {same}")
    for what, ln, op in (("wall", lean, opt), ("CPU", lean_cpu, opt_cpu)):
        ml, mo = statistics.median(ln), statistics.median(op)
        over = (ml - mo) / mo
        print(
            f"    figure ({what}, median of {len(ln)}): per trial leanfit {ml / n * 1000:.1f} ms "
            f"vs optuna loop {mo / n * 1000:.1f} ms; overhead {over:+.1%}  target <= 5 %  "
            f"{'MET' if over <= 0.05 else 'NOT MET'}"
        )


def part_c(args) -> None:
    import leanfit as lf
    from leanfit.store import Store

    data = letter(args.rows)
    n = args.overhead_trials
    print(f"(c) 1 vs 2 workers: {n} random-sampler LightGBM trials, {len(data)} Letter rows")
    rates: dict[int, list[float]] = {1: [], 2: []}
    results = {}
    for _ in range(args.repeats):
        for jobs in (1, 2):
            w, _, r = leanfit_run(data, n, 5, jobs, None)
            rates[jobs].append(n / w * 60)
            results[jobs] = r.results
    r1, r2 = statistics.median(rates[1]), statistics.median(rates[2])
    identical = results[1].equals(results[2])
    print(
        f"    trials per minute: 1 worker {r1:.1f}, 2 workers {r2:.1f}; "
        f"identical results: {identical}"
    )
    print(
        f"    figure: speed-up {r2 / r1:.2f}x  target >= 1.8x  "
        f"{'MET' if r2 / r1 >= 1.8 else 'NOT MET'}"
    )
    sonar = lf.datasets.load("sonar")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'big.db'}")
        ctl = lf.Control(
            method="cv",
            number=3,
            search="bayes",
            budget=args.big,
            n_jobs=2,
            sampler=args.big_sampler,
        )
        errors = 0
        t0 = time.perf_counter()
        try:
            r = lf.train(
                sonar,
                "Class",
                method="knn",
                control=ctl,
                space={"k": lf.integer(1, 60)},
                preprocess=["center", "scale"],
                store=store,
                seed=3,
            )
            stored = len(store.done_tasks(r.store_run["run_id"]))
        except Exception as err:  # a lock error would surface here
            errors += 1
            stored = -1
            print(f"    error: {type(err).__name__}: {err}")
        wall = time.perf_counter() - t0
        store.close()
    print(
        f"    {args.big} knn trials ({args.big_sampler}), 2 workers, SQLite store: {stored} of "
        f"{args.big * 3} tasks "
        f"stored in {wall:.0f} s ({args.big / wall * 60:.0f} trials/min)"
    )
    print(f"    figure: lock errors {errors}  target 0  {'MET' if errors == 0 else 'NOT MET'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="abc")
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--random", type=int, default=400)
    ap.add_argument("--overhead-trials", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big", type=int, default=1000)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--big-sampler", default="random", choices=["random", "tpe"])
    args = ap.parse_args()
    for p in args.parts:
        {"a": part_a, "b": part_b, "c": part_c}[p](args)


if __name__ == "__main__":
    main()
