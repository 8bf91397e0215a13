"""Compression, second round: the standardisation folded into a network's first layer,
weight-only int8 (dequantized once by ONNX Runtime at load), compacted quantized graphs, the
single-row ONNX Runtime call without per-call checks, compiled trees' row loop, and structured
pruning chained after distillation. Every figure is checked against numpy or the engine itself."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

import torch

import leanfit as lf
from leanfit.compression import Candidate
from leanfit.compression.onnx_candidate import onnx_predictor
from leanfit.compression.quantize import compact, int8_dynamic, int8_weights, int8_weights_graph
from leanfit.compression.surgery import NetworkParts, network_onnx
from leanfit.export.runtime import fast_runner, onnx_predict, onnx_session, weight_only_int8


def _parts(center, scale, hidden=(64,), k=5, seed=0) -> NetworkParts:
    torch.manual_seed(seed)
    layers, p = [], len(center)
    for h in hidden:
        layers += [torch.nn.Linear(p, h), torch.nn.ReLU()]
        p = h
    body = torch.nn.Sequential(*layers, torch.nn.Linear(p, k)).eval()
    return NetworkParts(
        np.asarray(center, np.float32), np.asarray(scale, np.float32), body, "classification", k
    )


def _numpy_softmax_forward(parts: NetworkParts, X: np.ndarray) -> np.ndarray:
    """The network by hand in float64: standardise, Linear / ReLU, softmax."""
    h = (X.astype(np.float64) - parts.center) / parts.scale
    lins = [m for m in parts.body if isinstance(m, torch.nn.Linear)]
    for i, lin in enumerate(lins):
        h = h @ lin.weight.detach().double().numpy().T + lin.bias.detach().double().numpy()
        if i < len(lins) - 1:
            h = np.maximum(h, 0.0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ops(graph: bytes) -> list[str]:
    import onnx

    return [n.op_type for n in onnx.load_from_string(graph).graph.node]


# -- folding the standardisation -------------------------------------------------------------


def test_folded_standardisation_predicts_as_the_unfolded_graph() -> None:
    rng = np.random.default_rng(0)
    center, scale = rng.uniform(2, 8, 12), rng.uniform(0.5, 4, 12)  # Letter-like: |c/s| <= 16
    parts = _parts(center, scale, hidden=(32, 16))
    X = (center + scale * rng.normal(size=(300, 12))).astype(np.float32)
    folded, plain = network_onnx(parts, parts.body), network_onnx(parts, parts.body, fold=False)
    assert "Sub" not in _ops(folded) and "Div" not in _ops(folded)
    assert _ops(plain)[:2] == ["Sub", "Div"]
    a, b = onnx_predict(folded, X), onnx_predict(plain, X)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, _numpy_softmax_forward(parts, X), atol=1e-5)
    assert len(folded) < len(plain)  # no center / scale tensors


def test_a_large_offset_keeps_the_centring_and_stays_exact() -> None:
    # Glass-like: a column centred at 72.6 with sd 0.77 (|c/s| = 94): folding the centring would
    # cost float32 cancellation, so only the scale is folded and the Sub stays
    center = np.array([72.6, 1.5, 3.0], np.float32)
    scale = np.array([0.77, 0.003, 1.2], np.float32)
    parts = _parts(center, scale, hidden=(24,), k=3, seed=2)
    X = (center + scale * np.random.default_rng(1).normal(size=(200, 3))).astype(np.float32)
    folded = network_onnx(parts, parts.body)
    assert "Sub" in _ops(folded) and "Div" not in _ops(folded)
    np.testing.assert_allclose(onnx_predict(folded, X), _numpy_softmax_forward(parts, X), atol=1e-5)


def test_a_factorised_first_layer_folds_too() -> None:
    from leanfit.compression.surgery import factorise

    rng = np.random.default_rng(3)
    center, scale = rng.uniform(0, 5, 10), rng.uniform(1, 3, 10)
    parts = _parts(center, scale, hidden=(40,), k=4, seed=1)
    body, ranks = factorise(parts.body, lambda W: 3)
    assert ranks[0] == 3  # 3 (40 + 10) < 400: the first layer is two layers now
    X = (center + scale * rng.normal(size=(100, 10))).astype(np.float32)
    a = onnx_predict(network_onnx(parts, body), X)
    b = onnx_predict(network_onnx(parts, body, fold=False), X)
    np.testing.assert_allclose(a, b, atol=1e-5)


# -- weight-only int8 and compact graphs ------------------------------------------------------


def _fp32_candidate(graph: bytes) -> Candidate:
    return Candidate("net", "student", onnx_predictor(graph), len(graph), onnx=graph)


def test_int8_weights_stores_int8_and_predicts_as_the_dequantized_network() -> None:
    import onnx
    from onnx import numpy_helper

    rng = np.random.default_rng(4)
    center, scale = rng.uniform(2, 8, 16), rng.uniform(1, 3, 16)
    parts = _parts(center, scale, hidden=(256,), k=26, seed=3)
    graph = network_onnx(parts, parts.body)
    q = int8_weights(_fp32_candidate(graph))
    assert q.technique == "int8_weights" and q.onnx is not None
    g = onnx.load_from_string(q.onnx).graph
    kinds = sorted(onnx.TensorProto.DataType.Name(t.data_type) for t in g.initializer)
    # two weight matrices and two biases in int8, each with one float32 scale
    assert kinds == ["FLOAT"] * 4 + ["INT8"] * 4
    assert len(graph) / len(q.onnx) >= 3.5  # a 16-256-26 network: weights dominate the file
    # by hand: the folded float32 layers, each tensor rounded to int8 with scale max|a| / 127
    lins = [m for m in parts.body if isinstance(m, torch.nn.Linear)]
    W0 = lins[0].weight.detach().double().numpy() / scale[None, :]
    b0 = lins[0].bias.detach().double().numpy() - W0 @ center
    layers = [(W0, b0)] + [
        (m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in lins[1:]
    ]

    def rounded(a: np.ndarray) -> np.ndarray:
        s = np.float32(np.abs(a.astype(np.float32)).max() / 127.0)
        return np.clip(np.rint(a.astype(np.float32) / s), -127, 127) * np.float64(s)

    X = (center + scale * rng.normal(size=(400, 16))).astype(np.float32)
    h = X.astype(np.float64)
    for i, (W, b) in enumerate(layers):
        h = h @ rounded(W).T + rounded(b)
        if i == 0:
            h = np.maximum(h, 0.0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    by_hand = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(q.predict(X), by_hand, atol=1e-5)
    # and close to the float32 network
    p32 = onnx_predict(graph, X)
    assert np.mean(q.predict(X).argmax(1) == p32.argmax(1)) >= 0.97
    stored = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    assert all(a.dtype != np.float32 or a.size == 1 for a in stored.values())


def test_leanfit_sessions_fold_weight_only_int8_at_load(tmp_path) -> None:
    import onnxruntime as ort

    parts = _parts(np.zeros(8), np.ones(8), hidden=(32,), k=3)
    graph = int8_weights_graph(network_onnx(parts, parts.body))
    assert weight_only_int8(graph)
    assert not weight_only_int8(network_onnx(parts, parts.body))
    dyn = int8_dynamic(_fp32_candidate(network_onnx(parts, parts.body)))
    assert dyn.onnx is not None and not weight_only_int8(dyn.onnx)  # activations quantized
    # what ONNX Runtime runs, with the session settings onnx_session chooses: no DequantizeLinear
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.disable_quant_qdq", "1")
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
    import onnx

    ran = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert "DequantizeLinear" not in ran and "Gemm" in ran
    assert "DequantizeLinear" in _ops(graph)
    onnx_session(graph)  # opens


def test_compact_keeps_the_computation_and_drops_the_annotations() -> None:
    import onnx

    parts = _parts(np.zeros(20), np.ones(20), hidden=(64, 64), k=3)
    graph = network_onnx(parts, parts.body)
    model = onnx.load_from_string(graph)
    model.graph.value_info.add().name = "a_long_annotation_of_an_intermediate_value"
    for i, n in enumerate(model.graph.node):
        n.name = f"a_node_name_that_costs_bytes_{i}"
    noisy = model.SerializeToString()
    small = compact(noisy)
    assert len(small) < len(noisy)
    out = onnx.load_from_string(small)
    assert not out.graph.value_info and all(not n.name for n in out.graph.node)
    assert [i.name for i in out.graph.input] == ["X"]
    assert [o.name for o in out.graph.output] == [o.name for o in model.graph.output]
    X = np.random.default_rng(5).normal(size=(50, 20)).astype(np.float32)
    np.testing.assert_array_equal(onnx_predict(small, X), onnx_predict(noisy, X))


def test_fast_runner_returns_what_session_run_returns() -> None:
    parts = _parts(np.zeros(6), np.ones(6), hidden=(16,), k=4)
    sess = onnx_session(network_onnx(parts, parts.body))
    run = fast_runner(sess)
    X = np.random.default_rng(6).normal(size=(30, 6)).astype(np.float32)
    for rows in (X, X[:1]):
        got, want = run({"X": rows}), sess.run(None, {"X": rows})
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


# -- compiled trees: the row loop ------------------------------------------------------------


def test_compiled_rows_one_by_one_match_lightgbm_and_leave_the_rows_alone() -> None:
    pytest.importorskip("tl2cgen")
    import lightgbm as lgb

    from leanfit.compression.compiled import compile_trees

    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 8))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1},
        lgb.Dataset(X, y),
        20,
    )
    lib = compile_trees("lightgbm", booster, None)
    rows = X[:50].copy()
    rows[::4, 2] = np.nan
    kept = rows.copy()
    want = booster.predict(rows)
    batch = lib.predict(rows)
    single = np.vstack([lib.predict(rows[i : i + 1]) for i in range(len(rows))])
    np.testing.assert_array_equal(rows, kept)  # tl2cgen's quantize step wrote to its own buffer
    np.testing.assert_allclose(batch[:, 0], want, atol=1e-12)
    np.testing.assert_allclose(single[:, 0], want, atol=1e-12)  # no output carried over
    f32 = rows.astype(np.float32)
    np.testing.assert_allclose(
        lib.predict(f32)[:, 0], booster.predict(f32.astype(np.float64)), atol=1e-12
    )
    with pytest.raises(ValueError, match="the model takes 8 columns"):
        lib.predict(rows[:, :5])


# -- pruning chained after distillation --------------------------------------------------------


@pytest.fixture(scope="module")
def glass_gbm() -> tuple[object, pd.DataFrame]:
    glass = lf.datasets.load("glass")
    rows = lf.partition(glass["Type"], p=0.75, seed=3)
    train, test = glass.iloc[rows], glass.drop(glass.index[rows])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lf.train(
            train,
            "Type",
            method="lightgbm",
            grid=lf.expand_grid(n_estimators=30, num_leaves=7, learning_rate=0.1),
            control=lf.Control(method="none"),
            seed=1,
        )
    return fit, test


def test_students_are_pruned_after_distillation_and_their_matrices_shrink(glass_gbm) -> None:
    import onnx
    from onnx import numpy_helper

    fit, test = glass_gbm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = lf.compress(
            fit,
            test,
            tolerance=1.0,
            techniques=["student", "prune", "int8_weights"],
            options={
                "student_sizes": [[16, 12]],
                "student_epochs": 2,
                "student_prune_ratios": [0.5, 0.75],
                "finetune_epochs": 1,
            },
            n_single=20,
            batch_repeats=2,
        )
    names = list(res.table["name"])
    assert names[:4] == ["original", "student 16x12", "student 16x12 prune 50%",
                         "student 16x12 prune 75%"]  # fmt: skip
    assert list(res.table["technique"][:4]) == ["original", "student", "prune", "prune"]
    # quantization comes after the chain: the pruned students are quantized too
    assert "student 16x12 prune 50% int8_weights" in names

    def matrices(c: Candidate) -> list[tuple[int, ...]]:
        assert c.onnx is not None
        g = onnx.load_from_string(c.onnx).graph
        return [numpy_helper.to_array(t).shape for t in g.initializer if len(t.dims) == 2]

    p = np.asarray(fit.dataset.X).shape[1]
    k = len(fit.dataset.levels)
    student, half, quarter = res.candidates[1:4]
    assert matrices(student) == [(16, p), (12, 16), (k, 12)]
    assert matrices(half) == [(8, p), (6, 8), (k, 6)]  # half of each layer's neurons removed
    assert matrices(quarter) == [(4, p), (3, 4), (k, 3)]
    assert half.size_bytes < student.size_bytes and quarter.size_bytes < half.size_bytes
    assert half.settings["hidden"] == (8, 6) and "transfer set" in half.note
    # every candidate was measured on the test rows: its accuracy recomputed from its predict
    X_test = np.asarray(fit.dataset.encoder.transform(test), np.float32)
    codes = {lev: i for i, lev in enumerate(fit.dataset.levels)}
    y = np.array([codes[v] for v in test["Type"].astype(str)])
    for i in (2, 3):
        acc = float(np.mean(res.candidates[i].predict(X_test).argmax(1) == y))
        assert res.table.loc[i, "Accuracy"] == pytest.approx(acc)


def test_pruning_alone_needs_students_on_a_tree_model(glass_gbm) -> None:
    fit, test = glass_gbm
    with pytest.raises(ValueError, match="no compression applies"):
        lf.compress(fit, test, techniques=["prune"])
