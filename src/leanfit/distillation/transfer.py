"""Transfer sets for distillation: the training rows plus synthetic rows near them.

MUNGE (Buciluǎ, Caruana & Niculescu-Mizil 2006, "Model Compression") perturbs each row towards
its nearest neighbour: every attribute is, with probability ``p``, redrawn from a normal centred
on the neighbour's value with sd ``|a - a'| / s`` (continuous) or swapped with the neighbour's
value (nominal: a factor's dummy columns move together, so every synthetic row is a valid level).
mixup (Zhang et al. 2018) takes convex combinations of random pairs of rows. The teacher labels
the synthetic rows; the student never sees their true labels (they have none).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

AUGMENTATIONS = ("munge", "mixup", "none")
Span = tuple[int, int]  # [start, stop) of a factor's dummy columns in the model matrix


def nominal_spans(encoder: object) -> list[Span]:
    """The model-matrix column ranges that hold one factor's dummies (from a frame Encoder);
    none for an R formula's matrix, whose factor columns are not laid out one block each."""
    if getattr(encoder, "formula", None) is not None:
        return []
    cats = dict(getattr(encoder, "categorical", ()))
    spans, start = [], 0
    for col in getattr(encoder, "columns", ()):
        width = len(cats[col]) - 1 if col in cats else 1
        if col in cats and width > 0:
            spans.append((start, start + width))
        start += width
    return spans


def n_synthetic(n_rows: int, multiple: float) -> int:
    """How many synthetic rows a transfer set of ``multiple`` × the training size adds."""
    return int(round(float(multiple) * n_rows))


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable; physical pages otherwise)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def transfer_bytes(n_rows: int, n_cols: int, n_outputs: int, multiple: float) -> int:
    """Peak bytes the transfer set needs: float64 rows while generated and labelled by the
    teacher (twice, for the teacher's own copy), then the float32 tensors the student trains on."""
    total = n_rows + n_synthetic(n_rows, multiple)
    return total * (n_cols * (8 * 2 + 4) + max(n_outputs, 1) * (8 + 4))


def check_transfer_size(n_rows: int, n_cols: int, n_outputs: int, multiple: float) -> None:
    """Refuse, before allocating anything, a multiple whose transfer set would not fit in memory."""
    if not np.isfinite(multiple) or multiple < 0:
        raise ValueError(f"augmentation multiple must be a number >= 0, got {multiple!r}")
    need, have = transfer_bytes(n_rows, n_cols, n_outputs, multiple), available_memory()
    if need > have // 2:
        per_row = transfer_bytes(1, n_cols, n_outputs, 0.0)
        most = max((have // 2) // max(per_row, 1) / max(n_rows, 1) - 1.0, 0.0)
        raise MemoryError(
            f"augmentation multiple {multiple:g} makes a transfer set of "
            f"{n_rows + n_synthetic(n_rows, multiple):,} rows × {n_cols} columns, about "
            f"{need / 2**30:.1f} GiB; {have / 2**30:.1f} GiB of memory is available (at most "
            f"half is used): choose a multiple of at most {most:.1f}"
        )


def _pass_rows(n: int, n_new: int) -> np.ndarray:
    """Source rows for ``n_new`` synthetic rows: whole passes over 0..n-1, then a prefix."""
    return np.arange(n_new) % n


def munge(
    X: np.ndarray,
    multiple: float,
    seed: int,
    *,
    p: float = 0.5,
    s: float = 10.0,
    nominal: Sequence[Span] = (),
) -> np.ndarray:
    """MUNGE pseudo-rows: ``multiple`` × len(X) rows, each a perturbed copy of a training row."""
    from sklearn.neighbors import NearestNeighbors

    if not 0.0 <= p <= 1.0:
        raise ValueError(f"MUNGE swap probability p must be in [0, 1], got {p!r}")
    if not s > 0:
        raise ValueError(f"MUNGE local variance s must be > 0, got {s!r}")
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    n_new = n_synthetic(n, multiple)
    if n_new == 0 or n < 2:
        return np.empty((0, k))
    rng = np.random.default_rng(seed)
    center = np.nanmean(X, axis=0)
    scale = np.nanstd(X, axis=0)
    Z = np.nan_to_num((X - center) / np.where(scale > 0, scale, 1.0))
    nearest = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z, return_distance=False)
    # The nearest row other than itself (duplicates of a row are each other's neighbours).
    neighbour = np.where(nearest[:, 0] == np.arange(n), nearest[:, 1], nearest[:, 0])
    rows = _pass_rows(n, n_new)
    e, e2 = X[rows], X[neighbour[rows]]
    out = e.copy()
    is_nominal = np.zeros(k, dtype=bool)
    for a, b in nominal:
        is_nominal[a:b] = True
        swap = rng.random(n_new) < p
        out[swap, a:b] = e2[swap, a:b]
    cont = ~is_nominal
    swap = rng.random((n_new, int(cont.sum()))) < p
    draw = rng.normal(e2[:, cont], np.abs(e[:, cont] - e2[:, cont]) / s)
    out[:, cont] = np.where(swap, draw, e[:, cont])
    return out


def mixup(
    X: np.ndarray,
    multiple: float,
    seed: int,
    *,
    alpha: float = 0.4,
    nominal: Sequence[Span] = (),
) -> np.ndarray:
    """mixup rows: ``lam·x_i + (1 - lam)·x_j`` with lam ~ Beta(alpha, alpha) for random pairs;
    a factor takes the level of the row with the larger weight."""
    if not alpha > 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha!r}")
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    n_new = n_synthetic(n, multiple)
    if n_new == 0:
        return np.empty((0, k))
    rng = np.random.default_rng(seed)
    i = _pass_rows(n, n_new)
    j = rng.integers(0, n, n_new)
    lam = rng.beta(alpha, alpha, n_new)[:, None]
    out = lam * X[i] + (1.0 - lam) * X[j]
    for a, b in nominal:
        out[:, a:b] = np.where(lam >= 0.5, X[i, a:b], X[j, a:b])
    return out


def augment(
    X: np.ndarray,
    kind: str,
    multiple: float,
    seed: int,
    *,
    nominal: Sequence[Span] = (),
    munge_p: float = 0.5,
    munge_s: float = 10.0,
    mixup_alpha: float = 0.4,
) -> np.ndarray:
    """The synthetic rows of a transfer set (not including the training rows themselves)."""
    if kind == "munge":
        return munge(X, multiple, seed, p=munge_p, s=munge_s, nominal=nominal)
    if kind == "mixup":
        return mixup(X, multiple, seed, alpha=mixup_alpha, nominal=nominal)
    if kind == "none":
        return np.empty((0, np.shape(X)[1]))
    raise ValueError(f"augment must be one of {list(AUGMENTATIONS)}, got {kind!r}")


def transfer_labels(y: np.ndarray, n_synthetic: int, classification: bool) -> np.ndarray:
    """The transfer set's hard labels: the training rows' own, then "none" for the synthetic
    rows (-1 for a class code, NaN for a value), which only the teacher labels."""
    if classification:
        return np.concatenate([np.asarray(y, dtype=np.int64), np.full(n_synthetic, -1, np.int64)])
    return np.concatenate([np.asarray(y, dtype=float), np.full(n_synthetic, np.nan)])
