"""Final models as store artifacts, never pickled: each engine's own format where it has one,
otherwise skops, loaded back with an explicit trust list.

Formats (the artifact's ``fmt``):

* ``lightgbm-text``: a bare LightGBM ``Booster`` (``model_to_string``);
* ``xgboost-json``: a bare XGBoost ``Booster`` (its JSON model);
* ``catboost-cbm`` (``catboost-cbm/<class>`` for a subclass): a bare CatBoost model (its binary
  format);
* ``skops``: anything else (leanfit dataclasses, sklearn estimators, numpy arrays, dicts; a
  pandas DataFrame or Series inside, e.g. a training history, is kept as a ``FrameData`` of numpy
  columns);
* ``skops+<engine formats>``: a zip of the object's skeleton in skops, each engine object inside
  it replaced by an ``EngineRef``, plus every engine object in its own format (e.g. the
  ``EngineFit`` wrapping an XGBoost booster is ``skops+xgboost-json``).

Loading a skops part accepts only the types ``skops.io.get_untrusted_types`` reports whose module
is under ``TRUSTED_PREFIXES`` (minus ``REFUSED_PREFIXES``) or in ``TRUSTED_BUILTINS``; anything
else is refused with an error naming the type. ``dump_model`` checks the same list, so an object
that could not be loaded back is refused when it is stored, not discovered later.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import StoreError

__all__ = [
    "REFUSED_PREFIXES",
    "TRUSTED_BUILTINS",
    "TRUSTED_PREFIXES",
    "EngineRef",
    "UnsafeModelError",
    "check_trusted",
    "dump_model",
    "load_model",
]

TRUSTED_PREFIXES: tuple[str, ...] = (
    "sklearn.",
    "numpy.",
    "scipy.",
    "leanfit.",
    "lightgbm.",
    "glum.",
    "imblearn.",
    "quantile_forest.",
)
# Modules under a trusted prefix whose functions run code, read files or import freely.
REFUSED_PREFIXES: tuple[str, ...] = (
    "numpy.testing.",
    "numpy.f2py.",
    "numpy.distutils.",
    "numpy.ctypeslib.",
    "leanfit.cli.",
    "leanfit.experiment.",
    "leanfit.execute.",
    "leanfit.store.",
)
# Plain data types skops does not trust by default (functions such as eval are never listed).
TRUSTED_BUILTINS: frozenset[str] = frozenset(
    {
        "builtins.slice",
        "builtins.set",
        "builtins.frozenset",
        "builtins.range",
        "builtins.bytes",
        "builtins.bytearray",
    }
)

_LIGHTGBM, _XGBOOST, _CATBOOST, _SKOPS = "lightgbm-text", "xgboost-json", "catboost-cbm", "skops"
_CATBOOST_CLASSES = ("CatBoost", "CatBoostClassifier", "CatBoostRegressor")
_FRAMES = ("DataFrame", "Series")


class UnsafeModelError(StoreError):
    """A model that cannot be stored, or an artifact that will not be loaded, without pickle."""


@dataclass(frozen=True)
class EngineRef:
    """Placeholder for the ``index``-th engine object stored beside a skops skeleton."""

    index: int


@dataclass
class FrameData:
    """A pandas DataFrame (or Series) as numpy columns, so that no pandas internals are stored."""

    columns: list[Any]
    values: list[Any]  # one numpy array per column
    dtypes: list[str]
    index: Any  # numpy array, or (start, stop, step) of a RangeIndex
    index_name: Any = None
    series: bool = False

    @classmethod
    def of(cls, obj: Any) -> FrameData:
        """Take a DataFrame or Series apart into numpy arrays."""
        import numpy as np
        import pandas as pd

        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        idx = frame.index
        index = (
            (idx.start, idx.stop, idx.step) if isinstance(idx, pd.RangeIndex) else idx.to_numpy()
        )
        values = [np.asarray(frame.iloc[:, j].to_numpy()) for j in range(frame.shape[1])]
        return cls(
            columns=list(frame.columns),
            values=values,
            dtypes=[str(t) for t in frame.dtypes],
            index=index,
            index_name=idx.name,
            series=isinstance(obj, pd.Series),
        )

    def frame(self) -> Any:
        """The DataFrame (or Series) back, dtypes as they were."""
        import pandas as pd

        if isinstance(self.index, tuple):
            index = pd.RangeIndex(*self.index, name=self.index_name)
        else:
            index = pd.Index(self.index, name=self.index_name)
        cols = {}
        for name, v, dtype in zip(self.columns, self.values, self.dtypes, strict=True):
            col = pd.Series(v, index=index)
            cols[name] = col if str(col.dtype) == dtype else col.astype(dtype)
        out = pd.DataFrame(cols, index=index)
        out.columns = pd.Index(self.columns)
        return out.iloc[:, 0] if self.series else out


_ENGINE_REF = f"{EngineRef.__module__}.{EngineRef.__qualname__}"
_OWN_TYPES = frozenset({_ENGINE_REF, f"{FrameData.__module__}.{FrameData.__qualname__}"})


# ---------------------------------------------------------------------------------------------
# trust list


def is_trusted(type_name: str) -> bool:
    """Whether a type named by skops may be loaded."""
    if type_name in _OWN_TYPES or type_name in TRUSTED_BUILTINS:
        return True
    name = type_name + "."
    if any(name.startswith(p) for p in REFUSED_PREFIXES):
        return False
    return any(name.startswith(p) for p in TRUSTED_PREFIXES)


def check_trusted(types: Iterable[str], what: str = "artifact") -> list[str]:
    """The given untrusted types if every one is on the trust list; else an error naming them."""
    types = list(types)
    bad = [t for t in types if not is_trusted(t)]
    if bad:
        raise UnsafeModelError(
            f"{what} contains type(s) {', '.join(bad)} outside leanfit's trust list "
            f"(modules under {', '.join(p.rstrip('.') for p in TRUSTED_PREFIXES)}); "
            "refusing to load it"
        )
    return types


def _skops() -> Any:
    """``skops.io``, imported without dragging PyTorch in.

    On import skops lists scikit-learn's estimators by walking every sklearn package, which
    imports sklearn's PyTorch compatibility layer and so PyTorch itself (seconds) although no
    trusted type comes from it. Unless that layer is loaded already, it is hidden for the walk
    (which skips packages that fail to import); the trusted types are the same.
    """
    import sys

    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    compat = "sklearn.externals.array_api_compat.torch"
    hide = compat not in sys.modules
    if hide:
        sys.modules[compat] = None  # type: ignore[assignment]
    try:
        import skops.io as sio
    except ImportError as e:
        raise UnsafeModelError(f"skops is not installed ({e}); pip install skops") from e
    finally:
        if hide and compat in sys.modules and sys.modules[compat] is None:
            del sys.modules[compat]
    return sio


def _skops_dumps(obj: Any) -> bytes:
    """skops bytes of ``obj``, refused now when they would not pass the trust list on load."""
    sio = _skops()

    try:  # deflate level 1: forests shrink about 8x for little time
        data = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    except Exception as e:
        raise UnsafeModelError(
            f"{type(obj).__module__}.{type(obj).__qualname__} cannot be stored without pickle "
            f"(skops: {type(e).__name__}: {e})"
        ) from e
    check_trusted(sio.get_untrusted_types(data=data), f"a {type(obj).__qualname__}")
    return data


def _skops_loads(data: bytes) -> Any:
    """Load skops bytes, trusting exactly the untrusted types that pass the trust list."""
    sio = _skops()

    trusted = check_trusted(sio.get_untrusted_types(data=data))
    return sio.loads(data, trusted=trusted)


# ---------------------------------------------------------------------------------------------
# engines


def _engine_fmt(obj: Any) -> str | None:
    """The native format of an engine object (without importing any engine), else None."""
    mod, name = type(obj).__module__, type(obj).__name__
    if mod.startswith("lightgbm") and name == "Booster":
        return _LIGHTGBM
    if mod.startswith("xgboost") and name == "Booster":
        return _XGBOOST
    if mod.startswith("catboost") and name in _CATBOOST_CLASSES:
        return _CATBOOST if name == "CatBoost" else f"{_CATBOOST}/{name}"
    return None


def _dump_engine(fmt: str, obj: Any) -> bytes:
    """Engine object -> bytes in its own format."""
    if fmt == _LIGHTGBM:
        return obj.model_to_string(num_iteration=-1).encode("utf-8")
    if fmt == _XGBOOST:
        return bytes(obj.save_raw(raw_format="json"))
    with tempfile.TemporaryDirectory(prefix="leanfit-cbm-") as tmp:
        path = os.path.join(tmp, "model.cbm")
        obj.save_model(path, format="cbm")
        with open(path, "rb") as f:
            return f.read()


def _load_engine(fmt: str, data: bytes) -> Any:
    """Bytes in an engine's own format -> the engine object."""
    if fmt == _LIGHTGBM:
        import lightgbm as lgb

        return lgb.Booster(model_str=data.decode("utf-8"))
    if fmt == _XGBOOST:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(data))
        return booster
    base, _, cls = fmt.partition("/")
    if base == _CATBOOST and (cls or "CatBoost") in _CATBOOST_CLASSES:
        import catboost

        model = getattr(catboost, cls or "CatBoost")()
        with tempfile.TemporaryDirectory(prefix="leanfit-cbm-") as tmp:
            path = os.path.join(tmp, "model.cbm")
            with open(path, "wb") as f:
                f.write(data)
            model.load_model(path, format="cbm")
        return model
    raise UnsafeModelError(f"unknown model format {fmt!r}")


# ---------------------------------------------------------------------------------------------
# engine objects inside leanfit dataclasses, dicts, lists and tuples


def _swap(obj: Any, fn: Any) -> Any:
    """``obj`` with every leaf replaced by ``fn(leaf)`` (a copy where anything changed)."""
    new = fn(obj)
    if new is not obj:
        return new
    if type(obj) is dict:
        items = {k: _swap(v, fn) for k, v in obj.items()}
        return items if any(items[k] is not v for k, v in obj.items()) else obj
    if type(obj) in (list, tuple):
        items = [_swap(v, fn) for v in obj]
        changed = any(a is not b for a, b in zip(items, obj, strict=True))
        return type(obj)(items) if changed else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = [f.name for f in dataclasses.fields(obj) if hasattr(obj, f.name)]
        values = {k: getattr(obj, k) for k in names}
        swapped = {k: _swap(v, fn) for k, v in values.items()}
        changed = [k for k in values if swapped[k] is not values[k]]
        if not changed:
            return obj
        out = copy.copy(obj)
        for k in changed:
            object.__setattr__(out, k, swapped[k])
        return out
    return obj


def dump_model(fitted: Any) -> tuple[str, bytes]:
    """A fitted model (or pre-processing) as (format, bytes), without pickle.

    Raises ``UnsafeModelError`` naming the type when the object cannot be stored safely.
    """
    fmt = _engine_fmt(fitted)
    if fmt is not None:
        return fmt, _dump_engine(fmt, fitted)
    parts: list[tuple[str, bytes]] = []

    def take(leaf: Any) -> Any:
        if type(leaf).__module__.startswith("pandas") and type(leaf).__name__ in _FRAMES:
            return FrameData.of(leaf)
        f = _engine_fmt(leaf)
        if f is None:
            return leaf
        parts.append((f, _dump_engine(f, leaf)))
        return EngineRef(len(parts) - 1)

    skeleton = _swap(fitted, take)
    body = _skops_dumps(skeleton)
    if not parts:
        return _SKOPS, body
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.skops", body)
        z.writestr("engines.json", json.dumps([f for f, _ in parts]))
        for i, (_, data) in enumerate(parts):
            z.writestr(f"engine-{i}", data)
    fmts = sorted({f.partition("/")[0] for f, _ in parts})
    return "+".join([_SKOPS, *fmts]), buf.getvalue()


def load_model(fmt: str, data: bytes) -> Any:
    """Rebuild what ``dump_model`` stored, refusing types outside the trust list."""
    if not fmt.startswith(_SKOPS):
        return _load_engine(fmt, data)
    if fmt == _SKOPS:
        skeleton, engines = _skops_loads(data), []
    elif fmt.startswith(_SKOPS + "+"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            skeleton = _skops_loads(z.read("model.skops"))
            fmts = json.loads(z.read("engines.json"))
            engines = [_load_engine(str(f), z.read(f"engine-{i}")) for i, f in enumerate(fmts)]
    else:
        raise UnsafeModelError(f"unknown model format {fmt!r}")

    def put(leaf: Any) -> Any:
        if isinstance(leaf, FrameData):
            return leaf.frame()
        return engines[leaf.index] if isinstance(leaf, EngineRef) else leaf

    return _swap(skeleton, put)
