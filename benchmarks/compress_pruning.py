"""Network compressions on Letter: structured pruning, low rank and magnitude pruning of a
2 x 256 MLP, with accuracy and one-thread ONNX Runtime latency against the uncompressed network.

Letter (the bundled letterrecognition data): the first 16 000 rows train, the last 4 000 test.
The network: leanfit's ``mlp`` (2 hidden layers of ``--units`` units, Adam, ``--epochs``
epochs). The candidates come from ``leanfit.compression.networks.network_candidates`` (fine-tuned
``--tune-epochs`` epochs on the training rows). Every graph, the reference included, is timed the
same way, interleaved, ``--repeats`` times (``measure_latency``: p50 of ``--single`` single-row
calls, one thread, through the session's binding without per-call feed checks); each figure is
the median over the repeats, and the speed-up is the reference's median p50 over the
candidate's. The reference is the uncompressed network written as the candidates are (the
standardisation folded into the first layer); ``leanfit.to_onnx``'s graph is timed beside it.

Target (issue 13): 50 % of hidden neurons removed -> >= 1.6x single-row speed-up at <= 1 point
of accuracy lost.

    python benchmarks/compress_pruning.py [--units 256,512] [--epochs 30] [--tune-epochs 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def run(units: int, args: argparse.Namespace, data: pd.DataFrame) -> tuple[float, float]:
    """Train the 2 x ``units`` mlp, make the candidates, time everything; print the table and
    return (speed-up, accuracy points lost) of "prune 50%"."""
    import torch

    import leanfit as lf
    from leanfit.compression import Source
    from leanfit.compression.networks import network_candidates, network_parts
    from leanfit.compression.surgery import network_onnx
    from leanfit.export import to_onnx
    from leanfit.export.runtime import measure_latency, onnx_predict

    train, test = data.iloc[:16_000], data.iloc[16_000:]
    grid = lf.expand_grid(
        units=units, layers=2, l2=0.0, epochs=args.epochs, batch_size=128, lr=1e-3
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
    print(
        f"\n== mlp 2 x {units}, {args.epochs} epochs: trained in {time.perf_counter() - t0:.0f} s"
    )
    ds = res.dataset
    X = np.asarray(ds.X, dtype=np.float32)
    X_test = np.asarray(ds.encoder.transform(test), dtype=np.float32)
    codes = {lev: i for i, lev in enumerate(ds.levels)}
    y_test = np.array([codes[v] for v in test["lettr"].astype(str)])
    src = Source(res, X, np.asarray(ds.y), list(ds.levels), seed=args.seed)

    t0 = time.perf_counter()
    options = {
        "ratios": (0.5, 0.75),
        "sparsities": (0.9,),
        "energies": (0.9, 0.95),
        "epochs": args.tune_epochs,
    }
    cands = network_candidates(src, options)
    print(f"{len(cands)} candidates made and fine-tuned in {time.perf_counter() - t0:.0f} s")

    # The reference: the uncompressed network written as the candidates are (standardisation
    # folded into the first layer), so the speed-up is the pruning's alone; to_onnx's graph
    # (Sub, Div kept, as the torch exporter writes it) is timed beside it.
    ref = "original (folded)"
    parts = network_parts(res)
    reference = network_onnx(parts, parts.body)
    exported = to_onnx(res)
    # The floor: the same graph with no hidden layer (one 16 x 26 Gemm, softmax), what one ONNX
    # Runtime call costs whatever the network's size.
    floor_body = torch.nn.Sequential(torch.nn.Linear(parts.n_inputs, parts.n_classes))
    floor = network_onnx(parts, floor_body)
    graphs = (
        {ref: reference, "original (to_onnx)": exported}
        | {c.name: c.onnx for c in cands}
        | {"floor (no hidden layer)": floor}
    )
    acc = {ref: float(np.mean(onnx_predict(reference, X_test).argmax(1) == y_test))}
    acc["original (to_onnx)"] = float(np.mean(onnx_predict(exported, X_test).argmax(1) == y_test))
    for c in cands:
        acc[c.name] = float(np.mean(c.predict(X_test).argmax(1) == y_test))
    acc["floor (no hidden layer)"] = float("nan")
    p50: dict[str, list[float]] = {k: [] for k in graphs}
    batch: dict[str, list[float]] = {k: [] for k in graphs}
    rows = X_test[:1000]
    for _ in range(args.repeats):  # interleaved: every graph sees the same load
        for name, g in graphs.items():
            lat = measure_latency(g, rows, n_single=args.single, warmup=300, batch_repeats=10)
            p50[name].append(lat.single_p50_us)
            batch[name].append(lat.batch_rows_per_s)
    ref_p50 = float(np.median(p50[ref]))
    print(
        f"{'candidate':<24}{'bytes':>10}{'size x':>8}{'acc':>8}{'d acc pt':>9}"
        f"{'p50 us':>9}{'speed-up':>9}{'rows/s':>11}"
    )
    for name, g in graphs.items():
        m = float(np.median(p50[name]))
        print(
            f"{name:<24}{len(g):>10,}{len(reference) / len(g):>8.2f}{acc[name]:>8.4f}"
            f"{100 * (acc[name] - acc[ref]):>+9.2f}{m:>9.1f}{ref_p50 / m:>9.2f}"
            f"{np.median(batch[name]):>11,.0f}"
        )
    for c in cands:
        print(f"  {c.name}: {c.note}")
    half = "prune 50%"
    return ref_p50 / float(np.median(p50[half])), 100 * (acc[ref] - acc[half])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", default="256,512", help="hidden sizes to run, comma-separated")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--tune-epochs", type=int, default=10)
    ap.add_argument("--single", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import leanfit as lf

    data = lf.datasets.load("letter")
    figures = {int(u): run(int(u), args, data) for u in args.units.split(",")}
    print()
    for units, (speed, drop) in figures.items():
        met = "MET" if speed >= 1.6 and drop <= 1.0 else "NOT MET"
        print(
            f"2 x {units}, prune 50%: single-row speed-up {speed:.2f}x (target >= 1.6x, ratio "
            f"{speed / 1.6:.2f}); accuracy change {-drop:+.2f} points (target >= -1.0) -> {met}"
        )


if __name__ == "__main__":
    main()
