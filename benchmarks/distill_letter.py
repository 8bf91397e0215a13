"""Distil a tuned LightGBM into small networks on Letter and print the figures, in one run.

Letter (the bundled letterrecognition data): the first 16 000 rows train, the last 4 000 test
(the standard split). Teacher: LightGBM tuned by 3-fold CV (leaves × tree count, the tree count
a sub-model). Headline: ``lf.distill`` with a 2 × 128 MLP student on a MUNGE transfer set
(training rows + ``--multiple`` × synthetic rows), against the same MLP trained on hard labels,
with ONNX size and one-thread ONNX Runtime latency (p50 / p99 over ``--single`` single-row calls
after warm-up; rows/s at batch 1 024). Then a sweep over T ∈ {1, 2, 4, 8} and two student sizes
on the same transfer set. Targets (the distillation issue) are printed next to each figure.

    python benchmarks/distill_letter.py [--epochs 30] [--multiple 4] [--single 10000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

TARGETS = {
    "retention": (">=", 0.985),
    "gap_closure": (">=", 0.5),
    "fidelity": (">=", 0.96),
    "size_ratio": (">=", 50.0),
    "single_speedup": (">=", 10.0),
    "batch_speedup": (">=", 10.0),
}


def tuned_teacher(train: pd.DataFrame, seed: int) -> object:
    """LightGBM tuned by 3-fold CV over leaves and tree counts (one fit scores every count)."""
    import leanfit as lf

    grid = lf.expand_grid(
        n_estimators=[200, 400, 600], num_leaves=[15, 31], learning_rate=0.1, min_child_samples=10
    )
    ctrl = lf.Control(method="cv", number=3, n_jobs=2)
    return lf.train(train, "lettr", method="lightgbm", grid=grid, control=ctrl, seed=seed)


def sweep(teacher, X, y, X_test, y_test, args) -> pd.DataFrame:
    """T ∈ {1, 2, 4, 8} × two student sizes on one transfer set; hard-label baseline per size."""
    from leanfit.distillation.report import compare_models, relative_figures
    from leanfit.distillation.student import fit_mlp_students
    from leanfit.distillation.transfer import augment, nominal_spans
    from leanfit.nn.training import TrainOptions

    synthetic = augment(
        X, "munge", args.multiple, args.seed, nominal=nominal_spans(teacher.dataset.encoder)
    )
    Xa = np.vstack([X, synthetic])
    t_out = teacher.outputs(Xa)
    labels = np.concatenate([y, np.full(len(synthetic), -1)]).astype(np.int64)
    opts = TrainOptions(
        optimizer="adam",
        lr=2e-3,
        batch_size=256,
        epochs=args.epochs,
        schedule="cosine",
        num_threads=1,
    )
    k = teacher.n_classes
    rows = []
    for hidden in [(32,), (128, 128)]:
        common = {
            "hidden": hidden,
            "activation": "relu",
            "dropout": 0.0,
            "options": opts,
            "seed": args.seed,
        }
        hard = fit_mlp_students(
            X, y, t_out[: len(X)], "classification", k, n_real=len(X), T=1.0, alpha=1.0, **common
        )[0]
        for T in (1.0, 2.0, 4.0, 8.0):
            t0 = time.perf_counter()
            st = fit_mlp_students(
                Xa,
                labels,
                t_out,
                "classification",
                k,
                n_real=len(X),
                T=T,
                alpha=args.alpha,
                **common,
            )[0]
            fit_s = time.perf_counter() - t0
            table = compare_models(
                teacher, {"distilled": st, "hard": hard}, X_test, y_test, latency=False
            )
            fig = relative_figures(table, "distilled", "hard")
            rows.append(
                {
                    "hidden": "x".join(map(str, hidden)),
                    "T": T,
                    "parameters": st.n_parameters,
                    "hard_acc": table.loc["hard", "accuracy"],
                    "distilled_acc": table.loc["distilled", "accuracy"],
                    "retention": fig["retention"],
                    "gap_closure": fig["gap_closure"],
                    "fidelity": fig["fidelity"],
                    "log_loss": table.loc["distilled", "log_loss"],
                    "fit_s": fit_s,
                }
            )
            print(
                f"  sweep {rows[-1]['hidden']:>7} T={T:g}: acc {rows[-1]['distilled_acc']:.4f}"
                f" (hard {rows[-1]['hard_acc']:.4f}), fidelity {fig['fidelity']:.4f}, "
                f"{fit_s:.0f} s",
                flush=True,
            )
    return pd.DataFrame(rows)


def main() -> None:
    """Teacher, headline distillation with latency, T × size sweep; every figure printed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--multiple", type=float, default=4.0)
    parser.add_argument("--T", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--single", type=int, default=10_000, help="single-row calls timed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args()

    import leanfit as lf
    from leanfit.distillation import Teacher

    t_start = time.perf_counter()
    letter = lf.datasets.load("letter")
    train, test = letter.iloc[:16_000], letter.iloc[16_000:]
    print(
        f"Letter: {len(train)} training rows, {len(test)} test rows, "
        f"{letter['lettr'].nunique()} classes; {os.cpu_count()} cores"
    )

    t0 = time.perf_counter()
    fit = tuned_teacher(train, args.seed)
    print(
        f"teacher: LightGBM tuned by 3-fold CV in {time.perf_counter() - t0:.0f} s; chosen "
        f"{fit.best_params}"
    )

    t0 = time.perf_counter()
    result = lf.distill(
        fit,
        test=test,
        hidden=(128, 128),
        T=args.T,
        alpha=args.alpha,
        multiple=args.multiple,
        epochs=args.epochs,
        seed=args.seed,
        n_single=args.single,
    )
    print(
        f"distillation + hard-label baseline + ONNX measurements: "
        f"{time.perf_counter() - t0:.0f} s\n"
    )
    print(result)
    print("\nfigure            value     target")
    for name, (op, target) in TARGETS.items():
        value = result.figures.get(name, float("nan"))
        ok = value >= target if op == ">=" else value <= target
        print(f"  {name:<15} {value:8.4g}   {op} {target:g}   {'met' if ok else 'NOT MET'}")

    if not args.no_sweep:
        print(
            "\nsweep over T and student size (same transfer set, alpha "
            f"{args.alpha:g}, {args.epochs} epochs):"
        )
        teacher = Teacher.of(fit)
        ds = teacher.dataset
        X_test = ds.encoder.transform(test)
        y_test = pd.Categorical(test["lettr"], categories=ds.levels).codes.astype(np.int64)
        table = sweep(
            teacher, np.asarray(ds.X, float), np.asarray(ds.y, np.int64), X_test, y_test, args
        )
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\nwhole benchmark: {(time.perf_counter() - t_start) / 60:.1f} min (target < 20)")


if __name__ == "__main__":
    main()
