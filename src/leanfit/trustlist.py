"""Regenerating the store's exact trust list (``store/trusted.txt``): every name that saving
leanfit's registered models, distilled students and pre-processing writes.

It refits every model on tiny data, so it sits above the store and the capabilities it fits;
the store only reads the list (``store/trust.py``)::

    python -m leanfit.trustlist --write    # regenerate trusted.txt
    python -m leanfit.trustlist --check    # exit 1 and print the difference if out of date
"""

from __future__ import annotations

import io
import sys
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from .store.trust import TRUSTED_FILE, archive_names, trusted_names

__all__ = ["generate", "main", "render"]


def _tiny(mode: str, n_classes: int = 2) -> Any:
    """A tiny training set (48 rows, 4 columns) for ``mode``: binary, multi-class or regression."""
    import numpy as np

    from .models.base import CLASSIFICATION, TrainingData

    rng = np.random.default_rng(3)
    X = rng.normal(size=(48, 4))
    y: np.ndarray
    if mode == CLASSIFICATION:
        y = np.digitize(X[:, 0] + 0.3 * rng.normal(size=48), [-0.5, 0.5][: n_classes - 1])
        levels = tuple("abc"[:n_classes])
    else:
        y, levels = 2 * X[:, 0] + rng.normal(size=48), ()
    return TrainingData(X=X, y=y, mode=mode, levels=levels, columns=("x0", "x1", "x2", "x3"))


def first_params(model: Any, data: Any) -> dict[str, Any]:
    """The first candidate of the model's default grid (a random one when it has none)."""
    import numpy as np

    from .tuning.plan import normalize_grid

    if not model.params:
        return {}
    try:
        grid = model.default_grid(data, 1)
    except NotImplementedError:
        grid = model.random_grid(data, 1, np.random.default_rng(1))
    grid = normalize_grid(model, grid)
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in grid.iloc[0].items()}


# Options that keep fits small, and the teacher a distilled network needs.
_OPTIONS: dict[str, dict[str, Any]] = {
    "rf": {"n_trees": 5},
    "extra_trees": {"n_trees": 5},
    "qrf": {"n_trees": 5},
}
_OPTIONS["distill_mlp"] = {"teacher": "gbm"}
# Pre-processing: every step, in combinations that can be fitted together.
PREPROCESS_SETS: tuple[tuple[str, ...], ...] = (
    ("center", "scale", "zv", "nzv", "corr", "YeoJohnson", "pca"),
    ("BoxCox", "range", "spatialSign", "medianImpute"),
    ("expoTrans", "knnImpute"),
    ("bagImpute", "ica"),
    ("dummy",),
)


def model_cases(names: Iterable[str] | None = None) -> Iterator[tuple[str, Any, str, int]]:
    """(model name, model, mode, classes) for every registered model and mode it supports:
    binary and 3-class classification, regression."""
    from .models.base import CLASSIFICATION, registry

    reg = registry()
    for name in sorted(reg if names is None else names):
        model = reg[name](options=dict(_OPTIONS.get(name, {})))
        for mode in model.modes:
            for k in (2, 3) if mode == CLASSIFICATION else (0,):
                yield name, model, mode, k


def fitted_model(model: Any, mode: str, n_classes: int) -> Any:
    """``model`` fitted on tiny data (its first default candidate), as a final fit would be."""
    data = _tiny(mode, n_classes or 2)
    params = first_params(model, data)
    subs = [{k: params[k] for k in model.submodel if k in params}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(data, params, subs, 7)


def fitted_preprocess(steps: tuple[str, ...]) -> Any:
    """A PreProcess with ``steps`` fitted on tiny data (a factor column for ``dummy``, a missing
    value for the imputers, positive values for Box-Cox)."""
    import numpy as np
    import pandas as pd

    from .preprocess import PreProcess

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(40, 5)) + 4, columns=list("abcde"))
    if any(s.endswith("Impute") for s in steps):
        df.iloc[3, 1] = np.nan
    if "dummy" in steps:
        df["f"] = pd.Categorical(rng.choice(["u", "v", "w"], size=40))
    kw: dict[str, Any] = {"n_comp": 2} if "ica" in steps else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PreProcess(list(steps), **kw).fit(df)


def fitted_student(kind: str, mode: str) -> Any:
    """A distilled tree or linear student (``distillation.student``) fitted on tiny data."""
    import numpy as np

    from .distillation.student import fit_mimic_student
    from .models.base import CLASSIFICATION

    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 4))
    k = 3 if mode == CLASSIFICATION else 0
    logits = rng.normal(size=(40, k)) if k else X[:, 0] + 0.1 * rng.normal(size=40)
    return fit_mimic_student(kind, X, logits, mode, k, seed=1)


def names_of(obj: Any) -> set[str]:
    """The names a stored ``obj`` contains (its skops skeleton; engine parts hold none)."""
    from .store.artifacts import _dump

    fmt, data = _dump(obj, check=False)
    if fmt == "skops":
        return archive_names(data)
    if fmt.startswith("skops+"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return archive_names(z.read("model.skops"))
    return set()


def generate(echo: Any = None) -> dict[str, list[str]]:
    """Every name that saving leanfit's registered models, distilled students and
    pre-processing writes, with what produced it (``model/mode/classes``, ``student:kind/mode``
    or ``preprocess:steps``)."""
    import importlib.util

    from .models.base import CLASSIFICATION, REGRESSION

    seen: dict[str, list[str]] = {}
    cases: list[tuple[str, Any]] = []
    for name, model, mode, k in model_cases():
        if model.engine in ("xgboost", "catboost", "torch") and not importlib.util.find_spec(
            model.engine
        ):
            raise RuntimeError(f"{name}: engine {model.engine!r} is not installed")
        cases.append(
            (f"{name}/{mode}{k or ''}", lambda m=model, a=mode, b=k: fitted_model(m, a, b))
        )
    for kind in ("tree", "linear"):
        for mode in (CLASSIFICATION, REGRESSION):
            cases.append((f"student:{kind}/{mode}", lambda a=kind, b=mode: fitted_student(a, b)))
    for steps in PREPROCESS_SETS:
        cases.append((f"preprocess:{'+'.join(steps)}", lambda s=steps: fitted_preprocess(s)))
    for label, make in cases:
        if echo:
            echo(label)
        for n in names_of(make()):
            seen.setdefault(n, []).append(label)
    return dict(sorted(seen.items()))


def render(names: dict[str, list[str]]) -> str:
    """The text of ``trusted.txt``: a header, then one name a line with its first producer."""
    head = (
        "# Exact names a stored skops artifact may contain (leanfit/trustlist.py).\n"
        "# Generated by `python -m leanfit.trustlist --write`; review every added line.\n"
    )
    return head + "".join(f"{n}  # {labels[0]}\n" for n, labels in names.items())


def main(argv: list[str] | None = None) -> int:
    """``--write`` regenerates trusted.txt; ``--check`` compares it with a regeneration."""
    args = sys.argv[1:] if argv is None else argv
    if args not in (["--write"], ["--check"]):
        print("usage: python -m leanfit.trustlist --write | --check", file=sys.stderr)
        return 2
    names = generate(echo=lambda s: print(s, file=sys.stderr))
    if args == ["--write"]:
        TRUSTED_FILE.write_text(render(names), encoding="utf-8")
        print(f"wrote {len(names)} names to {TRUSTED_FILE}")
        return 0
    have = trusted_names()
    added, gone = sorted(set(names) - have), sorted(have - set(names))
    for n in added:
        print(f"+ {n}  # {names[n][0]}")
    for n in gone:
        print(f"- {n}")
    return 1 if added or gone else 0


if __name__ == "__main__":
    raise SystemExit(main())
