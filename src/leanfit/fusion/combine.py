"""Combiners that need no meta-model: weighted averages (equal, optimised on the simplex or chosen
by Caruana's greedy selection) and majority vote, all vectorised over members and rows.

``P`` is (members, rows, classes) probabilities for classification, (members, rows) predictions
for regression; a combiner maps it to (rows, classes) probabilities or (rows,) predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_LOSSES = ("logLoss", "Brier", "Accuracy")
REGRESSION_LOSSES = ("RMSE", "MAE")
_EPS = 1e-15


@dataclass(frozen=True)
class Weighted:
    """A weighted average of the members (weights sum to one)."""

    weights: np.ndarray

    def apply(self, P: np.ndarray) -> np.ndarray:
        return np.tensordot(self.weights, P, axes=1)


@dataclass(frozen=True)
class Vote:
    """Majority vote of the members' predicted classes; the output is each class's vote share.
    A tie goes to the tied class listed first among the levels."""

    def apply(self, P: np.ndarray) -> np.ndarray:
        k = P.shape[2]
        votes = np.argmax(P, axis=2)  # (members, rows)
        share = np.stack([(votes == c).mean(axis=0) for c in range(k)], axis=1)
        return share


def check_loss(loss: str | None, classification: bool, has_prob: bool) -> str:
    """The loss to optimise: Brier (the mean squared error of the class probabilities, proper
    and bounded, unlike logLoss with an over-confident member) by default, RMSE for regression."""
    valid = CLASS_LOSSES if classification else REGRESSION_LOSSES
    if loss is None:
        return "Brier" if classification else "RMSE"
    if loss not in valid:
        raise ValueError(f"loss={loss!r} is not one of {list(valid)} for this target")
    return loss


def losses(Q: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """The loss of C candidate combinations at once: Q is (C, rows[, classes]) -> (C,)."""
    if loss == "RMSE":
        return np.sqrt(np.mean((Q - y) ** 2, axis=1))
    if loss == "MAE":
        return np.mean(np.abs(Q - y), axis=1)
    n = len(y)
    if loss == "logLoss":
        true = Q[:, np.arange(n), y]
        return -np.mean(np.log(np.clip(true, _EPS, 1.0)), axis=1)
    if loss == "Brier":
        onehot = np.eye(Q.shape[2])[y]
        return np.mean(np.sum((Q - onehot) ** 2, axis=2), axis=1)
    return 1.0 - np.mean(np.argmax(Q, axis=2) == y, axis=1)  # Accuracy: the error rate


def caruana_counts(
    P: np.ndarray, y: np.ndarray, loss: str, iterations: int, pool: np.ndarray | None = None
) -> np.ndarray:
    """Caruana et al. (2004) greedy selection with replacement: start from the best single
    member, then ``iterations`` times add the member (again, possibly) whose addition gives the
    lowest loss of the averaged ensemble (ties: the first member). Returns times chosen.

    Each step scores every member's addition at once. Squared losses (RMSE, Brier) need no pass
    over the rows: with c the counts so far, ||R'c + R_j - (t+1)y||^2 is, up to a constant,
    2 (G c)_j - 2 (t+1) (R y)_j + G_jj for the members' Gram matrix G = R R' computed once.
    logLoss, MAE and Accuracy take one single-precision pass over (members, rows) per step."""
    idx = np.arange(P.shape[0]) if pool is None else np.asarray(pool)
    n, m = len(y), len(idx)
    counts = np.zeros(m, dtype=np.int64)
    if loss in ("RMSE", "Brier"):
        R = P[idx].reshape(m, -1)
        target = (y if loss == "RMSE" else np.eye(P.shape[2])[y]).reshape(-1).astype(float)
        G = R @ R.T
        Ry = R @ target
        for t in range(iterations + 1):
            j = int(np.argmin(2.0 * (G @ counts) - 2.0 * (t + 1) * Ry + np.diag(G)))
            counts[j] += 1
    else:
        if loss == "logLoss":
            R = np.ascontiguousarray(P[idx][:, np.arange(n), y], dtype=np.float32)
        else:
            R = np.ascontiguousarray(P[idx], dtype=np.float32)
        y32 = y.astype(np.float32)
        total = np.zeros_like(R[0])
        buf = np.empty_like(R)
        for t in range(iterations + 1):
            np.add(total[None], R, out=buf)  # (t + 1) x each candidate average
            if loss == "logLoss":
                np.maximum(buf, np.float32(_EPS), out=buf)
                score = -np.log(buf, out=buf).sum(axis=1)
            elif loss == "MAE":
                np.subtract(buf, (t + 1) * y32, out=buf)
                score = np.abs(buf, out=buf).sum(axis=1)
            else:  # Accuracy: most rows right
                score = -(np.argmax(buf, axis=2) == y).sum(axis=1).astype(float)
            j = int(np.argmin(score))
            total += R[j]
            counts[j] += 1
    out = np.zeros(P.shape[0], dtype=np.int64)
    np.add.at(out, idx, counts)
    return out


def caruana_weights(
    P: np.ndarray,
    y: np.ndarray,
    loss: str,
    iterations: int,
    bags: int,
    bag_fraction: float,
    seed: int,
) -> np.ndarray:
    """Caruana's weights; with ``bags`` > 1 each bag selects from a random ``bag_fraction`` of
    the members (at least one) and the weights are the bags' weights averaged."""
    m = P.shape[0]
    if bags <= 1:
        c = caruana_counts(P, y, loss, iterations)
        return c / c.sum()
    rng = np.random.default_rng(seed)
    size = max(1, int(round(bag_fraction * m)))
    w = np.zeros(m)
    for _ in range(bags):
        pool = np.sort(rng.choice(m, size=size, replace=False))
        c = caruana_counts(P, y, loss, iterations, pool)
        w += c / c.sum()
    return w / bags


def optimal_weights(P: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """Weights on the simplex (non-negative, summing to one) minimising ``loss`` of the
    weighted average, by SLSQP from equal weights."""
    from scipy.optimize import minimize

    if loss == "Accuracy":
        raise ValueError(
            "loss='Accuracy' is a step function: optimise weights on 'logLoss' "
            "or 'Brier', or use method='caruana'"
        )
    m, n = P.shape[0], len(y)
    if loss == "logLoss":
        T = P[:, np.arange(n), y]

        def f(w: np.ndarray) -> tuple[float, np.ndarray]:
            q = np.clip(w @ T, _EPS, None)
            return float(-np.mean(np.log(q))), -np.mean(T / q, axis=1)
    elif loss == "Brier":
        D = P - np.eye(P.shape[2])[y][None]  # members' residuals; weights sum to one

        def f(w: np.ndarray) -> tuple[float, np.ndarray]:
            r = np.tensordot(w, D, axes=1)
            return float(np.mean(np.sum(r**2, axis=1))), 2 * np.einsum("mnk,nk->m", D, r) / n
    elif loss == "RMSE":  # the MSE has the same minimiser and a smooth gradient

        def f(w: np.ndarray) -> tuple[float, np.ndarray]:
            r = w @ P - y
            return float(np.mean(r**2)), 2 * (P @ r) / n
    else:

        def f(w: np.ndarray) -> tuple[float, np.ndarray]:
            r = w @ P - y
            return float(np.mean(np.abs(r))), (P @ np.sign(r)) / n

    res = minimize(
        f,
        np.full(m, 1.0 / m),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: float(np.sum(w) - 1.0)}],
        options={"maxiter": 500, "ftol": 1e-12},
    )
    w = np.clip(np.asarray(res.x, dtype=float), 0.0, None)
    return w / w.sum()
