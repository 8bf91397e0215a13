"""Network compressions (leanfit.compression.networks): structured pruning, magnitude pruning and
low rank, checked against forward passes, SVD identities and counts computed by hand here."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

import leanfit as lf  # noqa: E402
from leanfit.compression import Source  # noqa: E402
from leanfit.compression.networks import (  # noqa: E402
    APPLIES_TO,
    applies_to_networks,
    network_candidates,
    network_options,
    network_parts,
    why_not_networks,
)
from leanfit.compression.surgery import (  # noqa: E402
    energy_rank,
    factorise,
    low_rank_factors,
    magnitude_prune,
    make_permanent,
    network_onnx,
    parts_from_state,
    prune_neurons,
    sparse_onnx,
    weight_matrices,
)
from leanfit.distillation import Student  # noqa: E402
from leanfit.export.runtime import onnx_predict  # noqa: E402
from leanfit.nn.network import seeded_mlp  # noqa: E402


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _act(name: str, h: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "tanh":
        return np.tanh(h)
    raise AssertionError(name)


def _forward(weights, X, center, scale, activation):
    """A plain numpy forward pass: standardise, then (W, b) layers with the activation between."""
    h = (np.asarray(X, float) - center) / scale
    for i, (W, b) in enumerate(weights):
        h = h @ np.asarray(W, float).T + b
        if i < len(weights) - 1:
            h = _act(activation, h)
    return h


def _student(p, k, hidden, activation="relu", seed=0, mode="classification"):
    """An mlp Student with seeded random weights (no training needed) and its numpy layers."""
    spec = {"n_inputs": p, "n_outputs": k, "hidden": hidden, "activation": activation}
    mlp = seeded_mlp(spec, seed)
    state = {f"1.{k_}": v.detach().numpy().copy() for k_, v in mlp.state_dict().items()}
    rng = np.random.default_rng(seed)
    state["0.center"] = rng.normal(size=p).astype(np.float32)
    state["0.scale"] = rng.uniform(0.5, 2.0, size=p).astype(np.float32)
    st = Student("mlp", mode, k if mode == "classification" else 0, p, spec=spec, state=state)
    return st


def _layers(state, n_hidden):
    return [(state[f"1.{3 * i}.weight"], state[f"1.{3 * i}.bias"]) for i in range(n_hidden + 1)]


@pytest.fixture(scope="module")
def glass():
    return lf.datasets.load("glass")


@pytest.fixture(scope="module")
def glass_mlp(glass):
    grid = lf.expand_grid(units=24, layers=2, l2=0.0, epochs=15, lr=0.01)
    return lf.train(
        "Type ~ .", data=glass, method="mlp", grid=grid, control=lf.Control(method="none"), seed=3
    )


def _source(res, seed=0):
    X = np.asarray(res.dataset.X, dtype=np.float32)
    return Source(res, X, np.asarray(res.dataset.y), list(res.dataset.levels), seed=seed)


def _log_loss(prob, y):
    return float(-np.mean(np.log(np.clip(prob[np.arange(len(y)), y], 1e-15, None))))


# -- structured pruning ----------------------------------------------------------------------


def test_mlp_fit_is_taken_apart_faithfully(glass_mlp, glass):
    src = _source(glass_mlp)
    parts = network_parts(glass_mlp)
    ref = glass_mlp.predict_proba(glass).to_numpy()
    np.testing.assert_allclose(onnx_predict(network_onnx(parts, parts.body), src.X_train), ref,
                               atol=1e-5)  # fmt: skip
    assert applies_to_networks(src)


def test_pruned_shapes_shrink_by_the_ratio(glass_mlp):
    cands = network_candidates(
        _source(glass_mlp), {"techniques": "prune", "ratios": [0.5, 0.25], "epochs": 0}
    )
    assert [c.name for c in cands] == ["prune 50%", "prune 25%"]
    p, k = 9, 6  # glass: 9 predictors, 6 classes
    for c, h in zip(cands, (12, 18), strict=True):
        assert c.settings["hidden"] == (h, h)
        assert c.settings["parameters"] == h * p + h + h * h + h + k * h + k
        assert weight_matrices(c.onnx) == {"W0": (h, p), "W1": (h, h), "W2": (k, h)}
        assert c.size_bytes == len(c.onnx)


def test_removing_neurons_with_zero_outgoing_weights_changes_nothing():
    st = _student(7, 3, (10, 6), activation="tanh", seed=4)
    dead1, dead2 = [0, 2, 3, 7, 9], [1, 4, 5]  # half of each hidden layer
    st.state["1.3.weight"][:, dead1] = 0.0  # layer-1 neurons nobody downstream reads
    st.state["1.6.weight"][:, dead2] = 0.0
    X = np.random.default_rng(1).normal(size=(50, 7)).astype(np.float32)
    y = np.arange(50) % 3
    (c,) = network_candidates(
        Source(st, X, y, ["a", "b", "c"]), {"techniques": ["prune"], "ratios": 0.5, "epochs": 0}
    )
    assert c.settings["hidden"] == (5, 3)
    keep1, keep2 = [1, 4, 5, 6, 8], [0, 2, 3]
    W = _layers(st.state, 2)
    small = [
        (W[0][0][keep1], W[0][1][keep1]),
        (W[1][0][np.ix_(keep2, keep1)], W[1][1][keep2]),
        (W[2][0][:, keep2], W[2][1]),
    ]
    c0, s0 = st.state["0.center"], st.state["0.scale"]
    full = _softmax(_forward(W, X, c0, s0, "tanh"))
    np.testing.assert_allclose(_softmax(_forward(small, X, c0, s0, "tanh")), full, atol=1e-12)
    np.testing.assert_allclose(c.predict(X), full, atol=1e-5)


def test_fine_tuning_does_not_worsen_the_training_loss(glass_mlp):
    src = _source(glass_mlp, seed=7)
    y = src.y_train.astype(int)
    losses = []
    for epochs in (0, 5):
        (c,) = network_candidates(src, {"techniques": "prune", "ratios": 0.75, "epochs": epochs})
        losses.append(_log_loss(c.predict(src.X_train), y))
    assert losses[1] < losses[0]
    again = network_candidates(src, {"techniques": "prune", "ratios": 0.75, "epochs": 5})[0]
    assert again.onnx == c.onnx  # a fixed seed reproduces the fine-tuned network


# -- low rank ----------------------------------------------------------------------------------


def test_svd_factors_full_rank_and_truncation_error():
    W = np.random.default_rng(0).normal(size=(12, 8)).astype(np.float32)
    B, A = low_rank_factors(W, 8)
    assert B.shape == (12, 8) and A.shape == (8, 8)
    np.testing.assert_allclose(B @ A, W, atol=1e-5)
    B, A = low_rank_factors(W, 3)
    s = np.linalg.svd(W.astype(float), compute_uv=False)
    # Eckart-Young: the squared error of the best rank-3 approximation is the dropped s^2
    err = np.sum((W.astype(float) - B.astype(float) @ A.astype(float)) ** 2)
    assert err == pytest.approx(np.sum(s[3:] ** 2), rel=1e-4)
    D = np.diag([3.0, 2.0, 1.0])  # energies 9/14, 13/14, 14/14
    assert [energy_rank(D, e) for e in (0.5, 0.64, 0.65, 0.9, 0.93, 1.0)] == [1, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="rank=9 must be in 1..8"):
        low_rank_factors(W, 9)


def test_low_rank_parameter_count_by_hand():
    st = _student(9, 6, (30, 30), seed=2)
    X = np.random.default_rng(3).normal(size=(40, 9)).astype(np.float32)
    src = Source(st, X, np.arange(40) % 6, list("abcdef"))
    (c,) = network_candidates(src, {"techniques": "lowrank", "ranks": [5], "epochs": 0})
    # 30x9: 5*(30+9)=195 < 270 and 30x30: 300 < 900 are factorised; 6x30: 180 < 180 is not
    assert c.settings["ranks"] == [5, 5, None]
    assert c.settings["parameters"] == (5 * 9) + (30 * 5 + 30) + (5 * 30) + (30 * 5 + 30) + (
        6 * 30 + 6
    )
    assert weight_matrices(c.onnx) == {
        "W0": (5, 9), "W1": (30, 5), "W2": (5, 30), "W3": (30, 5), "W4": (6, 30),
    }  # fmt: skip
    W = _layers(st.state, 2)
    ranked = []
    for i, (Wi, bi) in enumerate(W):
        if i < 2:
            U, s, Vt = np.linalg.svd(Wi.astype(float))
            Wi = (U[:, :5] * s[:5]) @ Vt[:5]
        ranked.append((Wi, bi))
    ref = _softmax(_forward(ranked, X, st.state["0.center"], st.state["0.scale"], "relu"))
    np.testing.assert_allclose(c.predict(X), ref, atol=1e-5)


# -- magnitude pruning -------------------------------------------------------------------------


def _weights(onnx_bytes):
    """Every weight matrix of a graph as a dense array, decoding sparse (COO) initializers."""
    import onnx
    from onnx import numpy_helper

    g = onnx.load_from_string(onnx_bytes).graph
    out = {t.name: numpy_helper.to_array(t) for t in g.initializer if t.name.startswith("W")}
    for t in g.sparse_initializer:
        dense = np.zeros(int(np.prod(t.dims)), np.float32)
        dense[numpy_helper.to_array(t.indices)] = numpy_helper.to_array(t.values)
        out[t.values.name] = dense.reshape(tuple(t.dims))
    return out, {t.values.name for t in g.sparse_initializer}


def test_magnitude_pruning_zeros_the_smallest_weights_and_ships_a_sparse_file():
    st = _student(9, 6, (40, 40), seed=5)
    X = np.random.default_rng(4).normal(size=(60, 9)).astype(np.float32)
    src = Source(st, X, np.arange(60) % 6, list("abcdef"))
    (c0,) = network_candidates(src, {"techniques": "magnitude", "sparsities": 0.9, "epochs": 0})
    got, sparse = _weights(c0.onnx)
    names = ["W0", "W1", "W2"]
    orig = [st.state[f"1.{3 * i}.weight"] for i in range(3)]
    flat = np.concatenate([w.ravel() for w in orig])
    n_zero = int(round(0.9 * flat.size))  # over all weights together
    threshold = np.sort(np.abs(flat))[n_zero]  # the smallest |w| that survives
    # the graph's first layer holds the standardisation folded in: W0 / scale, column by column
    scale = np.asarray(st.state["0.scale"], dtype=np.float64)
    for i, (name, W) in enumerate(zip(names, orig, strict=True)):
        kept = np.where(np.abs(W) >= threshold, W, 0.0)
        np.testing.assert_allclose(got[name], kept / scale[None, :] if i == 0 else kept, rtol=1e-6)
    assert sum(int((got[n] == 0).sum()) for n in names) == n_zero
    assert c0.settings["zero_share"] == pytest.approx(n_zero / flat.size)
    # COO pays off (12 bytes per nonzero against 4 per entry) only below 1/3 density
    dense_enough = {n for n in names if np.count_nonzero(got[n]) <= got[n].size / 3}
    assert sparse == dense_enough and sparse and c0.settings["format"] == "sparse"
    assert c0.size_bytes == len(c0.onnx) < c0.settings["dense_bytes"]
    assert "90% of weights zero" in c0.note and "sparse initializers" in c0.note
    (c1,) = network_candidates(src, {"techniques": "magnitude", "sparsities": 0.9, "epochs": 3})
    tuned, _ = _weights(c1.onnx)
    for name, W in zip(names, orig, strict=True):  # the mask is held while fine-tuning
        assert np.all(tuned[name][np.abs(W) < threshold] == 0)
        assert tuned[name].shape == W.shape
    assert not np.array_equal(tuned["W1"], got["W1"])  # ... and the kept weights did move


def test_magnitude_pruning_below_the_break_even_ships_the_dense_graph():
    st = _student(9, 6, (40, 40), seed=5)
    X = np.random.default_rng(4).normal(size=(30, 9)).astype(np.float32)
    src = Source(st, X, np.arange(30) % 6, list("abcdef"))
    (c,) = network_candidates(src, {"techniques": "magnitude", "sparsities": 0.5, "epochs": 0})
    # 12 bytes per stored nonzero against 4 per dense entry: at 50% zeros the COO file is larger
    assert c.settings["format"] == "dense" and c.size_bytes == c.settings["dense_bytes"]
    assert c.settings["sparse_bytes"] >= c.settings["dense_bytes"]
    forced = sparse_onnx(c.onnx, max_density=1.0)  # every matrix in COO form anyway
    assert len(forced) > c.size_bytes
    np.testing.assert_allclose(onnx_predict(forced, X), c.predict(X), atol=1e-6)


# -- ONNX against torch ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "gelu", "elu", "leaky_relu", "sigmoid"])
def test_each_compressed_graph_predicts_like_its_torch_module(activation):
    st = _student(9, 4, (16, 12), activation=activation, seed=6)
    mlp = {k[2:]: v for k, v in st.state.items() if k.startswith("1.")}
    parts = parts_from_state(
        st.spec, mlp, st.state["0.center"], st.state["0.scale"], "classification", 4
    )
    X = np.random.default_rng(5).normal(size=(64, 9)).astype(np.float32) * 3
    bodies = [
        parts.body,
        prune_neurons(parts.body, 0.5)[0],
        make_permanent(magnitude_prune(parts.body, 0.8)),
        factorise(parts.body, lambda W: 3)[0],
    ]
    for body in bodies:
        with torch.no_grad():
            ref = torch.softmax(parts.with_body(body).module()(torch.from_numpy(X)), 1).numpy()
        got = onnx_predict(network_onnx(parts, body), X)
        np.testing.assert_allclose(got, ref, atol=1e-5)


def test_regression_student_candidates_predict_on_the_response_scale():
    st = _student(5, 1, (12, 12), seed=8, mode="regression")
    st.y_center, st.y_scale = 20.0, 4.0
    X = np.random.default_rng(6).normal(size=(80, 5)).astype(np.float32)
    y = st.predict(X) + np.random.default_rng(7).normal(scale=0.1, size=80)
    src = Source(st, X, y, None)
    cands = network_candidates(src, {"epochs": 0, "ratios": [0.5], "sparsities": [0.8]})
    assert {c.technique for c in cands} == {"prune", "magnitude", "lowrank"}
    mag = next(c for c in cands if c.technique == "magnitude")
    mlp = {k[2:]: v for k, v in st.state.items() if k.startswith("1.")}
    parts = parts_from_state(
        st.spec, mlp, st.state["0.center"], st.state["0.scale"], "regression", 0, 20.0, 4.0
    )
    body = make_permanent(magnitude_prune(parts.body, 0.8))
    with torch.no_grad():
        ref = parts.with_body(body).module()(torch.from_numpy(X)).numpy()[:, 0]
    assert mag.predict(X).shape == (80,)
    np.testing.assert_allclose(mag.predict(X), ref, atol=1e-5)
    tuned = network_candidates(src, {"techniques": "prune", "ratios": [0.5], "epochs": 4})[0]
    untuned = next(c for c in cands if c.technique == "prune")
    rmse = [np.sqrt(np.mean((c.predict(X) - y) ** 2)) for c in (untuned, tuned)]
    assert rmse[1] < rmse[0]


# -- distilled students --------------------------------------------------------------------------


def test_distilled_student_is_fine_tuned_on_its_teachers_outputs(glass_mlp, glass):
    d = lf.distill(glass_mlp, hidden=(16, 16), epochs=3, multiple=1.0, latency=False, seed=1)
    X = np.asarray(glass_mlp.dataset.X, dtype=np.float32)
    src = Source(d, X, np.asarray(glass_mlp.dataset.y), list(glass_mlp.dataset.levels))
    assert applies_to_networks(src)
    (c,) = network_candidates(src, {"techniques": "prune", "ratios": 0.5, "epochs": 0})
    assert c.settings["hidden"] == (8, 8)
    (t,) = network_candidates(src, {"techniques": "prune", "ratios": 0.5, "epochs": 4})
    assert "teacher's outputs" in t.note and "T=4" in t.note
    teacher = _softmax(d.teacher.outputs(X))

    def kl(prob):  # KL(teacher || candidate): what the distillation loss pulls down at T=1
        return float(np.mean(np.sum(teacher * (np.log(teacher) - np.log(prob)), axis=1)))

    assert kl(t.predict(X)) < kl(c.predict(X))
    bare = Source(d.student, X, src.y_train, src.levels)
    (h,) = network_candidates(bare, {"techniques": "prune", "ratios": 0.5, "epochs": 1})
    assert "training labels" in h.note


# -- refusals ------------------------------------------------------------------------------------


def test_bad_options_are_refused_by_name():
    bad = [
        ({"ratio": 0.5}, r"unknown network compression option\(s\) \['ratio'\].*ratios"),
        ({"ratios": [0.5, 1.0]}, r"ratios=\[0.5, 1.0\]: 1.0 is not a number strictly between"),
        ({"ratios": []}, "ratios=.*is empty"),
        ({"sparsities": "0.9"}, "sparsities='0.9' must be a number or a list"),
        ({"energies": [0.0]}, r"energies=\[0.0\]: 0.0 is not a number in \(0, 1\]"),
        ({"ranks": [4, 0]}, "ranks=.*positive whole numbers"),
        ({"epochs": -1}, "epochs=-1 must be a whole number >= 0"),
        ({"epochs": 2.5}, "epochs=2.5 must be a whole number"),
        ({"lr": 0}, "lr=0 must be a finite number > 0"),
        ({"batch_size": 0}, "batch_size=0 must be a whole number >= 1"),
        ({"seed": "x"}, "seed='x' must be None"),
        ({"criterion": "l3"}, "criterion='l3' is not valid: use 'l1' or 'l2'"),
        ({"techniques": ["prune", "int8"]}, "techniques=.*use some of prune, magnitude, lowrank"),
    ]
    for opts, msg in bad:
        with pytest.raises(ValueError, match=msg):
            network_options(opts)
    assert network_options({"ratios": 0.5, "ranks": 3}).ratios == (0.5,)


def test_models_without_a_network_are_refused(glass):
    res = lf.train(
        "Type ~ .", data=glass, method="rpart", grid=lf.expand_grid(cp=0.01),
        control=lf.Control(method="none"),
    )  # fmt: skip
    src = _source(res)
    assert not applies_to_networks(src)
    assert why_not_networks(src) == "method 'rpart' is not a network"
    with pytest.raises(ValueError, match="method 'rpart' is not a network.*" + APPLIES_TO[:30]):
        network_candidates(src)
    linear = _student(4, 2, (), seed=0)
    X = np.zeros((4, 4), np.float32)
    assert not applies_to_networks(Source(linear, X, np.array([0, 1, 0, 1]), ["a", "b"]))
    st = _student(4, 2, (6,), seed=0)
    with pytest.raises(ValueError, match="class codes 0..1, found 0..2"):
        network_candidates(Source(st, X, np.array([0, 1, 2, 1]), ["a", "b"]))
    with pytest.raises(ValueError, match="takes 4 columns"):
        network_candidates(Source(st, X[:, :3], np.array([0, 1, 0, 1]), ["a", "b"]))


def test_lf_compress_runs_the_network_compressions_and_quantizes_them_too(glass_mlp, glass):
    out = lf.compress(
        glass_mlp,
        test=glass.iloc[::3],
        data=glass.iloc[[i for i in range(len(glass)) if i % 3]],
        tolerance=1.0,
        techniques=["prune", "int8_dynamic"],
        options={"prune_ratios": [0.5], "finetune_epochs": 0},
    )
    t = out.table.set_index("name")
    assert set(t["technique"]) == {"original", "prune", "int8_dynamic"}
    assert t.loc["prune 50%", "size_bytes"] < t.loc["original", "size_bytes"]
    assert "prune 50% int8_dynamic" in t.index  # quantization reaches the pruned network
