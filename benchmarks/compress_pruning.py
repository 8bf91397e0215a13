"""Network compressions on Letter: structured pruning, low rank and magnitude pruning of a
2 x 256 MLP, with accuracy and one-thread ONNX Runtime latency against the uncompressed network.

Letter (the bundled letterrecognition data): the first 16 000 rows train, the last 4 000 test.
The network: leanfit's ``mlp`` (2 hidden layers of ``--units`` units, Adam, ``--epochs``
epochs). The candidates come from ``leanfit.compress.networks.network_candidates`` (fine-tuned
``--tune-epochs`` epochs on the training rows). Every graph, the reference included, is timed the
same way, interleaved, ``--repeats`` times (``measure_latency``: p50 of ``--single`` single-row
calls, one thread); each figure is the median over the repeats, and the speed-up is the
reference's median p50 over the candidate's. The reference is the uncompressed network exported
by ``leanfit.to_onnx`` (the candidates' graphs are written node for node the same way).

Target (issue 13): 50 % of hidden neurons removed -> >= 1.6x single-row speed-up at <= 1 point
of accuracy lost.

    python benchmarks/compress_pruning.py [--units 256] [--epochs 30] [--tune-epochs 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--tune-epochs", type=int, default=10)
    ap.add_argument("--single", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import leanfit as lf
    from leanfit.compress import Source
    from leanfit.compress.networks import network_candidates
    from leanfit.export import to_onnx
    from leanfit.export.runtime import measure_latency, onnx_predict

    data = lf.datasets.load("letter")
    train, test = data.iloc[:16_000], data.iloc[16_000:]
    grid = lf.expand_grid(
        units=args.units, layers=2, l2=0.0, epochs=args.epochs, batch_size=128, lr=1e-3
    )
    t0 = time.perf_counter()
    res = lf.train(
        "lettr ~ .",
        data=train,
        method="mlp",
        grid=grid,
        control=lf.Control(method="none"),
        seed=args.seed,
        options={"device": "cpu"},
    )
    print(f"mlp 2 x {args.units}, {args.epochs} epochs: trained in {time.perf_counter() - t0:.0f} s")
    ds = res.dataset
    X = np.asarray(ds.X, dtype=np.float32)
    X_test = np.asarray(ds.encoder.transform(test), dtype=np.float32)
    codes = {lev: i for i, lev in enumerate(ds.levels)}
    y_test = np.array([codes[v] for v in test["lettr"].astype(str)])
    src = Source(res, X, np.asarray(ds.y), list(ds.levels), seed=args.seed)

    t0 = time.perf_counter()
    cands = network_candidates(
        src,
        {
            "ratios": (0.5, 0.75),
            "sparsities": (0.9,),
            "energies": (0.9, 0.95),
            "epochs": args.tune_epochs,
        },
    )
    print(f"{len(cands)} candidates made and fine-tuned in {time.perf_counter() - t0:.0f} s\n")

    reference = to_onnx(res)
    graphs = {"original (to_onnx)": reference} | {c.name: c.onnx for c in cands}
    acc = {"original (to_onnx)": float(np.mean(onnx_predict(reference, X_test).argmax(1) == y_test))}
    for c in cands:
        acc[c.name] = float(np.mean(c.predict(X_test).argmax(1) == y_test))
    p50: dict[str, list[float]] = {k: [] for k in graphs}
    batch: dict[str, list[float]] = {k: [] for k in graphs}
    rows = X_test[:1000]
    for _ in range(args.repeats):  # interleaved: every graph sees the same load
        for name, g in graphs.items():
            lat = measure_latency(g, rows, n_single=args.single, warmup=300, batch_repeats=10)
            p50[name].append(lat.single_p50_us)
            batch[name].append(lat.batch_rows_per_s)
    ref = "original (to_onnx)"
    ref_p50 = float(np.median(p50[ref]))
    print(
        f"{'candidate':<22}{'bytes':>10}{'size x':>8}{'acc':>8}{'d acc pt':>9}"
        f"{'p50 us':>9}{'speed-up':>9}{'rows/s':>11}"
    )
    for name, g in graphs.items():
        m = float(np.median(p50[name]))
        print(
            f"{name:<22}{len(g):>10,}{len(reference) / len(g):>8.2f}{acc[name]:>8.4f}"
            f"{100 * (acc[name] - acc[ref]):>+9.2f}{m:>9.1f}{ref_p50 / m:>9.2f}"
            f"{np.median(batch[name]):>11,.0f}"
        )
    print()
    for c in cands:
        print(f"{c.name}: {c.note}")
    print()
    half = next(c for c in cands if c.name == "prune 50%")
    speed = ref_p50 / float(np.median(p50[half.name]))
    drop = 100 * (acc[ref] - acc[half.name])
    print(
        f"prune 50%: single-row speed-up {speed:.2f}x (target >= 1.6x, ratio {speed / 1.6:.2f}); "
        f"accuracy {acc[half.name]:.4f} vs {acc[ref]:.4f}: {drop:+.2f} points lost "
        f"(target <= 1.0) -> {'MET' if speed >= 1.6 and drop <= 1.0 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
