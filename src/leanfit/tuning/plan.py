"""Candidates, fit groups and tasks: what will be fitted, decided before anything is fitted.

Candidates that differ only in a model's sub-model parameters share one fit (caret's ``loop``):
the seed's 90-candidate gbm grid becomes 3 fit groups. A task is one fit group on one resample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..execute.tasks import FitGroup, Task  # noqa: F401  (Task: re-exported, planned here)
from ..models.base import Model, TrainingData, expand_grid, grid_size, param_bounds

if TYPE_CHECKING:
    from ..control import Control

# Plans above these sizes are refused unless train(..., allow_large=True): a typo (a range to
# 1e12, number: 100000000) should fail in a second with its size, not after a minute and 4 GB.
MAX_CANDIDATES = 100_000
MAX_TASKS = 1_000_000
MAX_PLAN_BYTES = 4 * 2**30
_GO_AHEAD = (
    "pass allow_large=True to train() (in a config `allow_large: true`, or "
    "`leanfit run --allow-large`) to run it anyway"
)


def normalize_grid(
    model: Model, grid: Any, max_candidates: int | None = MAX_CANDIDATES
) -> pd.DataFrame:
    """Accept a DataFrame or a dict of lists; map caret's dotted names; fill the columns left out
    with their parameters' defaults (``Param.default``); check names and values. A grid of more
    than ``max_candidates`` rows is refused before it is built."""
    if isinstance(grid, Mapping):
        _check_candidates(grid_size(**dict(grid)), max_candidates, len(grid))
        grid = expand_grid(max_rows=None, **dict(grid))
    elif not isinstance(grid, pd.DataFrame):
        raise TypeError("grid must be a pandas DataFrame or a dict of lists (like expand_grid)")
    else:
        _check_candidates(len(grid), max_candidates, grid.shape[1])
    aliases = model.alias_map()
    unknown = [c for c in grid.columns if c not in aliases]
    if unknown:
        raise ValueError(
            f"grid column(s) {unknown} are not parameters of {model.name!r}; "
            f"its parameters are {model.param_names}"
        )
    grid = grid.rename(columns=aliases)
    defaults = {
        p.name: p.default for p in model.params if p.default is not None and p.name not in grid
    }
    if defaults:
        grid = grid.assign(**defaults)  # a column left out takes its parameter's default
    missing = [p for p in model.param_names if p not in grid.columns]
    if missing:
        required = [p.name for p in model.params if p.default is None]
        others = " (the others have defaults)" if len(required) < len(model.params) else ""
        raise ValueError(
            f"grid for {model.name!r} lacks column(s) {missing}; it needs all of {required}{others}"
        )
    grid = grid[model.param_names].drop_duplicates().reset_index(drop=True)
    if grid.empty:
        raise ValueError("grid has no rows")
    for p in model.params:
        for v in map(_py, grid[p.name].unique()):
            why = p.check(v)
            if why:
                raise ValueError(f"grid value {p.name}={v!r} for {model.name!r}: {why}")
    return grid


def candidates(
    model: Model,
    data: TrainingData | None,
    grid: Any,
    tune_length: int,
    search: str,
    rng: np.random.Generator,
    max_candidates: int | None = MAX_CANDIDATES,
) -> pd.DataFrame:
    """The tuning candidates, simplest first: the user's grid, the default grid or random draws
    (more than ``max_candidates`` of them are refused; None: no limit). ``data`` is needed
    (and given) only without a ``grid``."""
    if grid is None:
        assert data is not None, "the default and random grids are built from the data"
        if not isinstance(tune_length, int) or tune_length < 1:
            raise ValueError(f"tune_length={tune_length!r} must be a positive integer")
        if max_candidates is not None and tune_length > max_candidates:
            raise ValueError(
                f"tune_length={tune_length:,} asks for at least that many candidates, more than "
                f"the limit of {max_candidates:,}; use a smaller tune_length, or {_GO_AHEAD}"
            )
        if not model.params:
            grid = pd.DataFrame([{}])
        elif search == "random":
            grid = model.random_grid(data, tune_length, rng)
        else:
            try:
                grid = model.default_grid(data, tune_length)
            except ValueError as e:
                if "expand_grid would build" not in str(e):
                    raise
                raise ValueError(f"tune_length={tune_length:,}: the default grid {e}") from None
    if not model.params:
        return pd.DataFrame(index=[0])
    grid = normalize_grid(model, grid, max_candidates)
    return model.sort_simplest_first(grid).reset_index(drop=True)


@dataclass(frozen=True)
class DataShape:
    """The smallest data a fit will see: training rows (the smallest resample's, after class
    sampling) and predictor columns (after dummies and pre-processing)."""

    rows: int
    predictors: int
    rows_what: str = "training rows"  # where the row count comes from, for messages
    predictors_what: str = "predictors after pre-processing"

    def describe(self, limit: str) -> str:
        """A limit ("predictors", "rows", "rows - 1") as words for an error or warning."""
        if limit == "predictors":
            return f"the {self.predictors} {self.predictors_what}"
        minus = " minus 1" if limit == "rows - 1" else ""
        return f"the {self.rows} {self.rows_what}{minus}"


def within_limits(
    model: Model, cands: pd.DataFrame, shape: DataShape, generated: bool
) -> pd.DataFrame:
    """Check candidates against the parameters' data-dependent limits (``Param.at_most``).

    A user's grid with a value the data cannot take (mtry=50 with 18 predictors) is refused,
    naming the model, parameter, value and limit. A generated grid (default or random) loses
    such candidates with a warning; when none is left, that is an error too.
    """
    bounds = param_bounds(model, shape.rows, shape.predictors)
    keep = np.ones(len(cands), dtype=bool)
    dropped: list[str] = []
    for name, (top, limit) in bounds.items():
        if name not in cands.columns:
            continue
        values = pd.to_numeric(cands[name], errors="coerce").to_numpy(dtype=float)
        over = values > top
        if not over.any():
            continue
        bad = sorted({_py(v) for v in cands.loc[over, name]})
        shown = ", ".join(map(str, bad[:6])) + (", ..." if len(bad) > 6 else "")
        why = f"at most {top}: {shape.describe(limit)}"
        if top < 1:
            why = f"no value is possible: {shape.describe(limit)}"
        if not generated:
            fix = f"use values up to {top}" if top >= 1 else "it needs more data"
            raise ValueError(
                f"grid value(s) {name}={shown} for {model.name!r} are more than the data allows "
                f"({why}); {fix}"
            )
        keep &= ~over
        dropped.append(f"{name}={shown} ({why})")
    if not dropped:
        return cands
    if not keep.any():
        raise ValueError(
            f"every candidate of {model.name!r}'s generated grid is more than the data allows: "
            f"{'; '.join(dropped)}; pass a grid= within the limits"
        )
    import warnings

    warnings.warn(
        f"{model.name!r}: dropped the generated grid's {'; '.join(dropped)}: more than the "
        "data allows",
        UserWarning,
        stacklevel=4,
    )
    return cands[keep].reset_index(drop=True)


def _check_candidates(n: int, limit: int | None, n_params: int) -> None:
    """Refuse a grid of more than ``limit`` rows, saying how many and what building it costs."""
    if limit is None or n <= limit:
        return
    build = n * (64 + 40 * max(n_params, 1))  # Python tuples of boxed values, then the frame
    raise ValueError(
        f"the grid has {n:,} candidates, more than the limit of {limit:,}: building it alone "
        f"takes about {format_bytes(build)}, and each resample fits and scores every "
        f"candidate; use fewer values (a grid range's from/to/by), or {_GO_AHEAD}"
    )


@dataclass(frozen=True)
class PlanSize:
    """What a plan will cost, computed from its settings before any resample or task is made."""

    resamples: int
    tasks: int
    rows_bytes: int  # the resamples' row indices
    scores_bytes: int  # resample x candidate x metric scores
    predictions_bytes: int  # held-out predictions kept for save_predictions / LOOCV

    @property
    def total_bytes(self) -> int:
        return self.rows_bytes + self.scores_bytes + self.predictions_bytes

    def check(self, candidates: int, groups: int, allow_large: bool) -> None:
        """Refuse a plan above MAX_TASKS fits or MAX_PLAN_BYTES of memory, naming its size."""
        if allow_large or (self.tasks <= MAX_TASKS and self.total_bytes <= MAX_PLAN_BYTES):
            return
        parts = [
            (self.rows_bytes, "resample rows"),
            (self.scores_bytes, "scores"),
            (self.predictions_bytes, "kept held-out predictions"),
        ]
        cost = ", ".join(f"{what} {format_bytes(b)}" for b, what in parts if b)
        raise ValueError(
            f"the plan is too large: {self.resamples:,} resamples x {groups:,} fit group(s) "
            f"({candidates:,} candidates) = {self.tasks:,} model fits (limit {MAX_TASKS:,}), "
            f"holding about {format_bytes(self.total_bytes)} (limit "
            f"{format_bytes(MAX_PLAN_BYTES)}: {cost}); use fewer resamples (Control(number=, "
            f"repeats=)) or candidates, or {_GO_AHEAD}"
        )


def plan_size(
    control: Control, n_rows: int, candidates: int, groups: int, metrics: int, levels: int
) -> PlanSize:
    """The size of a resampled plan from its settings and counts alone (``levels``: classes,
    0 for regression); the bootstrap's held-out rows are estimated."""
    resamples, held_out = control.resample_sizes(n_rows)
    outputs = 1 + (levels if control.class_probs else 0)  # numbers predicted per row
    keep = control.save_predictions != "none" or control.method == "loocv"
    apparent = control.method in ("boot632", "optimism_boot")
    return PlanSize(
        resamples=resamples,
        tasks=resamples * groups + (groups if apparent else 0),
        rows_bytes=resamples * (n_rows + held_out) * 8,
        scores_bytes=resamples * candidates * metrics * 8,
        predictions_bytes=resamples * held_out * candidates * outputs * 8 if keep else 0,
    )


def format_bytes(n: float) -> str:
    """A byte count for people: 512 B, 3.2 MB, 24.0 GB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def fit_groups(model: Model, cands: pd.DataFrame) -> list[FitGroup]:
    """Group candidates that share every non-sub-model parameter into one fit."""
    sub = [p for p in model.submodel if p in cands.columns]
    fixed = [p for p in cands.columns if p not in sub]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, row in enumerate(cands[fixed].itertuples(index=False, name=None)):
        groups.setdefault(tuple(_key(v) for v in row), []).append(i)
    records = [{k: _py(v) for k, v in r.items()} for r in cands.to_dict("records")]
    return [
        FitGroup(
            params=records[idx[0]],
            subs=[{p: records[i][p] for p in sub} for i in idx],
            candidates=tuple(idx),
        )
        for idx in groups.values()
    ]


def task_seed(seed: int, resample: int, group: int) -> int:
    """A per-task seed derived from the run seed: the same task gets the same seed anywhere."""
    ss = np.random.SeedSequence([seed, resample + 2, group])  # -2: final fit, -1: apparent
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _key(v: Any) -> Any:
    return ("nan",) if isinstance(v, float) and np.isnan(v) else v


def _py(v: Any) -> Any:
    """numpy scalars to plain Python values (clean dicts, stable hashing, readable output)."""
    return v.item() if isinstance(v, np.generic) else v
