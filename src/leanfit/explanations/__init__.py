"""Per-prediction explanations: ``lf.explain(fit, rows)`` attributes each row's raw output to
the columns (factors summed back from their dummies) and to the model-matrix columns.

TreeSHAP comes from the engines themselves where they have it (LightGBM, gbm, XGBoost,
CatBoost), shap's TreeExplainer explains scikit-learn forests (rf, extra_trees), linear models
(lm, glm, glmnet) get coefficient x (value - training mean), and every other model
permutation-sampled Shapley values on a background sample of training rows. In every case the
attributions plus the base value equal the model's raw output (``Explanation.output`` says
which: log-odds, the softmax margin per class, a probability, or the prediction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..frame import to_pandas
from ..models.base import CLASSIFICATION
from .core import METHODS, FitParts, applicable, attribute, feature_names, transformed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["METHODS", "Explanation", "FitParts", "explain", "explain_parts", "fit_parts"]


@dataclass
class Explanation:
    """Attributions of ``n`` rows: ``values`` (n, p, K) over the p model columns
    (``features``) for K outputs (``outputs``: one, or one per class), the ``base`` value per
    output, the model's ``raw`` output (n, K); ``columns`` maps each feature to the original
    column it comes from. ``output`` says what the raw output is, ``method`` which explainer
    ran, ``notes`` how features map to columns."""

    values: np.ndarray
    base: np.ndarray
    raw: np.ndarray
    features: list[str]
    columns: list[str]
    outputs: list[str]
    output: str
    method: str
    index: pd.Index
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    # -- tables ----------------------------------------------------------------------------
    @property
    def column_names(self) -> list[str]:
        """The original columns, in first-seen order."""
        return list(dict.fromkeys(self.columns))

    def column_values(self) -> np.ndarray:
        """Attributions summed per original column: (n, columns, K)."""
        names = self.column_names
        pos = {c: i for i, c in enumerate(names)}
        out = np.zeros((self.values.shape[0], len(names), self.values.shape[2]))
        for j, c in enumerate(self.columns):
            out[:, pos[c], :] += self.values[:, j, :]
        return out

    def _frame(self, values: np.ndarray, names: list[str]) -> pd.DataFrame:
        if len(self.outputs) == 1:
            return pd.DataFrame(values[:, :, 0], columns=names, index=self.index)
        cols = pd.MultiIndex.from_product([self.outputs, names], names=["output", "column"])
        flat = np.transpose(values, (0, 2, 1)).reshape(len(values), -1)
        return pd.DataFrame(flat, columns=cols, index=self.index)

    @property
    def attributions(self) -> pd.DataFrame:
        """Per row and original column (a factor's dummies summed); with several outputs the
        columns are (output, column)."""
        return self._frame(self.column_values(), self.column_names)

    @property
    def feature_attributions(self) -> pd.DataFrame:
        """Per row and model-matrix column (after pre-processing)."""
        return self._frame(self.values, self.features)

    @property
    def base_value(self) -> float | pd.Series:
        """The expected raw output the attributions start from (per output when several)."""
        if len(self.outputs) == 1:
            return float(self.base[0])
        return pd.Series(self.base, index=self.outputs, name="base_value")

    @property
    def raw_output(self) -> pd.Series | pd.DataFrame:
        """The model's raw output for each row (per output when several)."""
        if len(self.outputs) == 1:
            return pd.Series(self.raw[:, 0], index=self.index, name=self.output)
        return pd.DataFrame(self.raw, columns=self.outputs, index=self.index)

    def additivity_error(self) -> float:
        """Largest |attributions + base - raw output| over rows and outputs."""
        fin = np.isfinite(self.raw)
        gap = self.values.sum(axis=1) + self.base[None, :] - self.raw
        return float(np.max(np.abs(gap[fin]), initial=0.0))

    def for_output(self, output: str | None = None) -> Explanation:
        """The explanation of one output (a class), as a single-output Explanation; None: the
        only one, or the first class."""
        if output is None:
            output = self.outputs[0]
        if output not in self.outputs:
            raise ValueError(f"output {output!r} is not one of {self.outputs}")
        k = self.outputs.index(output)
        return Explanation(
            values=self.values[:, :, k : k + 1],
            base=self.base[k : k + 1],
            raw=self.raw[:, k : k + 1],
            features=self.features,
            columns=self.columns,
            outputs=[output],
            output=self.output if len(self.outputs) == 1 else f"{self.output}: {output}",
            method=self.method,
            index=self.index,
            data=self.data,
            notes=self.notes,
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per row: base value, raw output and attributions per column
        (per output when several), as the server answers them."""
        vals = self.column_values()
        names = self.column_names
        out = []
        for i in range(len(self.raw)):

            def per(k: int, i: int = i) -> dict[str, Any]:
                return {
                    "base_value": float(self.base[k]),
                    "raw_output": float(self.raw[i, k]),
                    "attributions": {c: float(vals[i, j, k]) for j, c in enumerate(names)},
                }

            if len(self.outputs) == 1:
                out.append({"output": self.output, "method": self.method, **per(0)})
            else:
                # classes="predicted" leaves the other classes unexplained (NaN): left out
                done = [k for k in range(len(self.outputs)) if not np.isnan(self.raw[i, k])]
                out.append(
                    {
                        "output": self.output,
                        "method": self.method,
                        "classes": {self.outputs[k]: per(k) for k in done},
                    }
                )
        return out

    # -- plots -----------------------------------------------------------------------------
    def plot_summary(self, kind: str = "beeswarm", top: int = 20) -> Figure:
        """Beeswarm (each row's attribution, coloured by the column's value) or bar (mean
        |attribution|) per original column, the ``top`` columns by mean |attribution|."""
        from .plots import plot_summary

        return plot_summary(self, kind=kind, top=top)

    def plot_waterfall(self, row: int = 0, top: int = 12) -> Figure:
        """One row's waterfall: from the base value to its raw output, column by column."""
        from .plots import plot_waterfall

        return plot_waterfall(self, row=row, top=top)

    def __repr__(self) -> str:
        n, p, k = self.values.shape
        lines = [
            f"Explanation of {n} row(s) by {self.method}",
            f"output: {self.output}" + (f" ({k} outputs)" if k > 1 else ""),
            f"{len(self.column_names)} column(s) from {p} model column(s); "
            f"additivity error {self.additivity_error():.2e}",
        ]
        lines += [f"note: {s}" for s in self.notes]
        return "\n".join(lines)


def fit_parts(fit: Any) -> FitParts:
    """What explaining needs from a TrainResult (its final model, pre-processing, encoder,
    chosen sub-model and training matrix)."""
    from ..tuning.result import TrainResult

    if not isinstance(fit, TrainResult):
        raise TypeError(f"explain() takes a TrainResult (from train()), got {type(fit).__name__}")
    if fit.final_model is None:
        raise ValueError(f"the {fit.method!r} result has no final model to explain")
    ds = fit.dataset
    if fit.explain_cache is None or fit.explain_cache[0] is not fit.final_model:
        fit.explain_cache = (fit.final_model, {})  # a new final model: its trees are unread
    return FitParts(
        model=fit.model,
        fitted=fit.final_model,
        preprocess=fit.final_preprocess,
        encoder=ds.encoder,
        sub=fit._sub(),
        mode=ds.mode,
        levels=tuple(ds.levels),
        background=np.asarray(ds.X, dtype=float),
        forests=fit.explain_cache[1],
    )


def _wanted(parts: FitParts, classes: Any, n: int) -> tuple[Any, list[int] | None]:
    """``classes`` as what attribute() takes ("predicted", an (n, K) mask, or None) and the
    class positions asked for by name (None unless a list was given)."""
    if classes is None:
        return None, None
    levels = list(parts.levels)
    if parts.mode != CLASSIFICATION or len(levels) < 3:
        what = "a regression" if parts.mode != CLASSIFICATION else "a two-class"
        raise ValueError(
            f"classes={classes!r} chooses among the classes of a model of three or more; "
            f"this is {what} model with a single output to explain"
        )
    if isinstance(classes, str) and classes == "predicted":
        return "predicted", None
    asked = [classes] if isinstance(classes, str) else list(classes)
    if not asked:
        raise ValueError(f"classes=[] names no class; the classes are {levels}")
    unknown = [c for c in asked if str(c) not in levels]
    if unknown:
        raise ValueError(
            f"classes names {unknown}, not classes of this model: {levels} (or 'predicted')"
        )
    idx = list(dict.fromkeys(levels.index(str(c)) for c in asked))
    mask = np.zeros((n, len(levels)), dtype=bool)
    mask[:, idx] = True
    return mask, idx


def explain_parts(
    parts: FitParts,
    rows: Any,
    method: str = "auto",
    *,
    classes: str | list[str] | None = None,
    background: int = 100,
    permutations: int = 10,
    seed: int = 0,
) -> Explanation:
    """``explain`` on a fit's parts (what a bundle's Python fit provides too)."""
    data = to_pandas(rows)
    if isinstance(data, pd.Series):
        data = data.to_frame().T
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"rows must be a pandas or polars DataFrame, got {type(rows).__name__}")
    missing = [c for c in parts.encoder.columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"rows lack the predictor column(s) {missing}; the model was trained on "
            f"{list(parts.encoder.columns)}"
        )
    if len(data) == 0:
        raise ValueError("rows is empty: nothing to explain")
    if method not in ("auto", *METHODS):
        raise ValueError(f"method={method!r} is not one of {['auto', *METHODS]}")
    X = parts.encoder.transform(data)
    if not parts.model.takes_missing and np.isnan(X).any():
        from ..frame import check_missing_rows

        check_missing_rows(
            parts.encoder,
            X,
            takes_missing=False,
            preprocess=parts.preprocess,
            who=f"method {parts.model.name!r}",
        )
    Z = transformed(parts, X)
    want, asked = _wanted(parts, classes, len(Z))
    raw = attribute(
        parts,
        Z,
        method,
        background_rows=background,
        permutations=permutations,
        seed=seed,
        want=want,
    )
    names, sources, notes = feature_names(parts)
    outputs = (
        list(parts.levels)
        if parts.mode == CLASSIFICATION and len(parts.levels) > 2
        else [raw.output]
    )
    if parts.mode == CLASSIFICATION and len(parts.levels) == 2:
        outputs = [parts.levels[1]]
    values, base, out = raw.values, np.asarray(raw.base, float).reshape(-1), raw.raw
    if want is not None:
        # keep the classes asked for (in the order asked) or, for "predicted", those
        # predicted for some row (in level order); a row's other classes are NaN
        keep = (
            asked
            if asked is not None
            else [k for k in range(len(outputs)) if not np.isnan(out[:, k]).all()]
        )
        values, base, out = values[:, :, keep], base[keep], out[:, keep]
        outputs = [outputs[k] for k in keep]
        if asked is None:
            notes = [
                *notes,
                "classes='predicted': each row is explained for its predicted class (largest "
                "raw output) only; its other classes are NaN",
            ]
        if not raw.only_wanted:
            notes = [
                *notes,
                f"classes={classes!r}: every class was computed and the others dropped "
                "(only LightGBM skips the other classes' trees)",
            ]
    return Explanation(
        values=values,
        base=base,
        raw=out,
        features=names,
        columns=sources,
        outputs=outputs,
        output=raw.output,
        method=raw.method,
        index=data.index,
        data=data[list(parts.encoder.columns)].reset_index(drop=True),
        notes=notes + raw.notes,
    )


def explain(
    fit: Any,
    rows: Any,
    method: str = "auto",
    *,
    classes: str | list[str] | None = None,
    background: int = 100,
    permutations: int = 10,
    seed: int = 0,
) -> Explanation:
    """Per-prediction attributions of ``fit``'s final model on ``rows`` (raw columns).

    ``method``: "auto" (the best that applies), "tree" (the engine's TreeSHAP for lightgbm, gbm,
    xgb_tree and catboost; shap's TreeExplainer for rf and extra_trees), "linear" (lm, glm,
    glmnet: coefficient x (value - training mean)) or "permutation" (any model: Shapley values
    sampled over ``permutations`` column orders, in antithetic pairs, on ``background``
    training rows drawn with ``seed``; exact when there are at most that many orders). A
    method that does not apply is refused, naming those that do.

    ``classes`` (models of three or more classes): None explains every class; a label or a
    list of labels explains those classes for every row; "predicted" explains each row for its
    predicted class only (the others are NaN; ``outputs`` lists the classes predicted). A
    LightGBM fit then walks only those classes' trees (K times less work for one class of K);
    other models compute every class and drop the rest.
    """
    parts = fit_parts(fit)
    return explain_parts(
        parts,
        rows,
        method,
        classes=classes,
        background=background,
        permutations=permutations,
        seed=seed,
    )


def methods_for(fit: Any) -> list[str]:
    """The explanation methods that apply to ``fit``, best first."""
    return applicable(fit_parts(fit))
