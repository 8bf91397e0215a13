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

Loading a skops part accepts only archives whose every class, function and method name is on the
exact trust list (``store/trust.py``, ``trusted.txt``: what leanfit's own models and
pre-processing write); anything else is refused with an error naming it, before anything is
imported or called. A module prefix never grants trust. ``dump_model`` checks the same list, so an
object that could not be loaded back is refused when it is stored, not discovered later.

Engine files (LightGBM text, XGBoost JSON, CatBoost binary) are parsed natively, where malformed
input can crash the process; so their tree structure is checked first (child and feature indices
in range) and they are loaded and asked for one prediction in a child process
(``ENGINE_CHECK_TIMEOUT_S``) before the engine sees them here. A file that fails either check is
refused with ``UnsafeModelError``.
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
    "ENGINE_CHECK_TIMEOUT_S",
    "EngineRef",
    "UnsafeModelError",
    "check_trusted",
    "dump_model",
    "load_model",
]

ENGINE_CHECK_TIMEOUT_S = 60

_LIGHTGBM, _XGBOOST, _CATBOOST, _SKOPS = "lightgbm-text", "xgboost-json", "catboost-cbm", "skops"
_CATBOOST_CLASSES = ("CatBoost", "CatBoostClassifier", "CatBoostRegressor")
_FRAMES = ("DataFrame", "Series")
# Modules whose objects crash skops.dumps outright (no exception to catch): refused beforehand.
_ABORTS_SKOPS = ("sklearnex", "daal4py", "onedal")


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


# ---------------------------------------------------------------------------------------------
# trust list


def check_trusted(
    names: Iterable[str], what: str = "artifact", refusing: str = "refusing to load it"
) -> None:
    """Refuse, naming them, any class/function/method names not on the exact trust list."""
    from .trust import TRUSTED_FILE, untrusted

    bad = untrusted(names)
    if bad:
        raise UnsafeModelError(
            f"{what} contains {', '.join(bad)}, not on leanfit's exact trust list "
            f"({TRUSTED_FILE.name}: the classes and functions leanfit's own models store); "
            f"{refusing}"
        )


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


def _skops_dumps(obj: Any, check: bool = True) -> bytes:
    """skops bytes of ``obj``, refused now (``check``) when they would not pass the trust list
    on load."""
    from .trust import archive_names

    sio = _skops()

    try:  # deflate level 1: forests shrink about 8x for little time
        data = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    except Exception as e:
        raise UnsafeModelError(
            f"{type(obj).__module__}.{type(obj).__qualname__} cannot be stored without pickle "
            f"(skops: {type(e).__name__}: {e})"
        ) from e
    if check:
        check_trusted(
            archive_names(data),
            f"a {type(obj).__qualname__}",
            "so it is not stored: it could not be loaded back",
        )
    return data


def _skops_loads(data: bytes, what: str) -> Any:
    """Load skops bytes whose every name is on the exact trust list (else refused, naming it)."""
    from .trust import archive_names

    sio = _skops()
    try:
        names = archive_names(data)
    except Exception as e:
        why = f"{type(e).__name__}: {e}"
        raise UnsafeModelError(f"{what} is not a valid skops archive ({why})") from e
    check_trusted(names, what)
    # every name is listed, so what skops itself does not trust by default may be passed on
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


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


def _ints(text: str) -> list[int]:
    """Space-separated integers of a LightGBM model line."""
    return [int(v) for v in text.split()] if text.strip() else []


def _check_lightgbm(text: str) -> str | None:
    """What is structurally wrong with LightGBM model text (indices out of range), else None."""
    head, _, body = text.partition("\nTree=")
    body = body.partition("\nend of trees")[0]  # then feature importances, e.g. "x1=3"
    fields = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    try:
        n_feat = int(fields["max_feature_idx"]) + 1
    except (KeyError, ValueError):
        return "no valid max_feature_idx"
    if n_feat < 1:
        return f"max_feature_idx {n_feat - 1} is negative"
    for k, block in enumerate(body.split("\nTree=") if body else []):
        tree = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        try:
            n_leaves = int(tree["num_leaves"])
            if n_leaves < 1:
                return f"tree {k}: num_leaves {n_leaves}"
            if n_leaves == 1:
                continue
            left, right = _ints(tree["left_child"]), _ints(tree["right_child"])
            feats = _ints(tree["split_feature"])
            n_values = len(tree["leaf_value"].split())
        except (KeyError, ValueError) as e:
            return f"tree {k}: missing or malformed field ({e})"
        n_int = n_leaves - 1
        if not (len(left) == len(right) == len(feats) == n_int and n_values == n_leaves):
            return f"tree {k}: array lengths do not match num_leaves={n_leaves}"
        if any(not -n_leaves <= c < n_int for c in left + right):
            return f"tree {k}: a child index is out of range"
        if any(not 0 <= f < n_feat for f in feats):
            return f"tree {k}: a split feature is out of range"
    return None


def _check_xgboost(data: bytes) -> str | None:
    """What is structurally wrong with an XGBoost JSON model (indices out of range), else None."""
    try:
        learner = json.loads(data)["learner"]
        n_feat = int(learner["learner_model_param"]["num_feature"])
        booster = learner["gradient_booster"]
    except (ValueError, KeyError, TypeError) as e:
        return f"not an XGBoost JSON model ({type(e).__name__}: {e})"
    if n_feat < 0:
        return f"num_feature {n_feat} is negative"
    model = (booster.get("gbtree") or booster).get("model") or {}
    for k, tree in enumerate(model.get("trees") or []):
        try:
            n = int(tree["tree_param"]["num_nodes"])
            arrays = [tree[a] for a in ("left_children", "right_children", "split_indices")]
            arrays += [tree[a] for a in ("split_conditions", "parents")]
        except (KeyError, ValueError, TypeError) as e:
            return f"tree {k}: missing or malformed field ({e})"
        if n < 1 or any(not isinstance(a, list) or len(a) != n for a in arrays):
            return f"tree {k}: array lengths do not match num_nodes={n}"
        left, right, feats = arrays[:3]
        for i in range(n):
            lo, ro = left[i], right[i]
            if not (isinstance(lo, int) and isinstance(ro, int)):
                return f"tree {k}: a child index is not an integer"
            if lo == -1:
                continue
            if not (0 < lo < n and 0 < ro < n):
                return f"tree {k}: a child index is out of range"
            if not (isinstance(feats[i], int) and 0 <= feats[i] < n_feat):
                return f"tree {k}: a split feature is out of range"
    return None


_CHILD_CHECK = """
import sys
fmt, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
# Loading a booster needs none of the engines' optional dependencies: skip importing them
# (seconds), unless this engine version cannot do without them.
_SKIP = ("pandas", "sklearn", "dask", "distributed", "matplotlib", "graphviz", "pyarrow", "polars")
if fmt in ("lightgbm-text", "xgboost-json"):
    for name in _SKIP:
        sys.modules.setdefault(name, None)
    try:
        __import__("lightgbm" if fmt == "lightgbm-text" else "xgboost")
    except ImportError:
        engine = ("lightgbm", "xgboost")
        for name in [n for n, m in sys.modules.items() if m is None or n.startswith(engine)]:
            del sys.modules[name]
if fmt == "lightgbm-text":
    import lightgbm, numpy
    b = lightgbm.Booster(model_str=data.decode("utf-8"))
    b.predict(numpy.zeros((1, b.num_feature())))
elif fmt == "xgboost-json":
    import numpy, xgboost
    b = xgboost.Booster()
    b.load_model(bytearray(data))
    b.predict(xgboost.DMatrix(numpy.zeros((1, b.num_features()))))
else:
    import catboost
    catboost.CatBoost().load_model(path, format="cbm")
"""


def _check_engine(fmt: str, data: bytes, what: str) -> None:
    """Refuse engine bytes that are malformed, or that crash, hang or fail the engine when loaded
    (and, for LightGBM and XGBoost, asked for one prediction) in a child process."""
    import signal
    import subprocess
    import sys

    base = fmt.partition("/")[0]
    why = None
    if base == _LIGHTGBM:
        try:
            why = _check_lightgbm(data.decode("utf-8"))
        except UnicodeDecodeError:
            why = "not UTF-8 text"
    elif base == _XGBOOST:
        why = _check_xgboost(data)
    if why is None:
        with tempfile.TemporaryDirectory(prefix="leanfit-check-") as tmp:
            path = os.path.join(tmp, "model")
            with open(path, "wb") as f:
                f.write(data)
            try:
                p = subprocess.run(
                    [sys.executable, "-c", _CHILD_CHECK, base, path],
                    capture_output=True,
                    timeout=ENGINE_CHECK_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired:
                why = f"the engine did not finish parsing it in {ENGINE_CHECK_TIMEOUT_S} s"
            else:
                if p.returncode < 0:
                    why = f"it crashed the engine ({signal.Signals(-p.returncode).name})"
                elif p.returncode:
                    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
                    why = f"the engine refused it ({err[-1] if err else p.returncode})"
    if why is not None:
        raise UnsafeModelError(
            f"{what} ({fmt}) is a malformed model file: {why}; refusing to load it"
        )


def _load_engine(fmt: str, data: bytes, what: str = "artifact") -> Any:
    """Bytes in an engine's own format -> the engine object (checked first, see module doc)."""
    if fmt.partition("/")[0] in (_LIGHTGBM, _XGBOOST, _CATBOOST):
        _check_engine(fmt, data, what)
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
        entries = {k: _swap(v, fn) for k, v in obj.items()}
        return entries if any(entries[k] is not v for k, v in obj.items()) else obj
    if type(obj) in (list, tuple):
        items = [_swap(v, fn) for v in obj]
        any_changed = any(a is not b for a, b in zip(items, obj, strict=True))
        return type(obj)(items) if any_changed else obj
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
    return _dump(fitted, check=True)


def _dump(fitted: Any, check: bool) -> tuple[str, bytes]:
    """``dump_model``; ``check=False`` skips the trust list (only for generating it)."""
    fmt = _engine_fmt(fitted)
    if fmt is not None:
        return fmt, _dump_engine(fmt, fitted)
    parts: list[tuple[str, bytes]] = []

    def take(leaf: Any) -> Any:
        if type(leaf).__module__.startswith(_ABORTS_SKOPS):
            raise UnsafeModelError(
                f"{type(leaf).__module__}.{type(leaf).__qualname__} cannot be stored: "
                "skops aborts the process on scikit-learn-intelex (oneDAL) objects; store its "
                "trees as a scikit-learn forest instead (as rf's engine='sklearnex' fits do)"
            )
        if type(leaf).__module__.startswith("pandas") and type(leaf).__name__ in _FRAMES:
            return FrameData.of(leaf)
        f = _engine_fmt(leaf)
        if f is None:
            return leaf
        parts.append((f, _dump_engine(f, leaf)))
        return EngineRef(len(parts) - 1)

    skeleton = _swap(fitted, take)
    body = _skops_dumps(skeleton, check)
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


def load_model(fmt: str, data: bytes, what: str = "artifact") -> Any:
    """Rebuild what ``dump_model`` stored, refusing names outside the exact trust list and
    malformed engine files; ``what`` names the artifact in errors (e.g. its run)."""
    if not fmt.startswith(_SKOPS):
        return _load_engine(fmt, data, what)
    if fmt == _SKOPS:
        skeleton, engines = _skops_loads(data, what), []
    elif fmt.startswith(_SKOPS + "+"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                parts = {n: z.read(n) for n in z.namelist()}
            fmts = [str(f) for f in json.loads(parts["engines.json"])]
            blobs = [parts[f"engine-{i}"] for i in range(len(fmts))]
            body = parts["model.skops"]
        except (zipfile.BadZipFile, KeyError, ValueError) as e:
            raise UnsafeModelError(f"{what} ({fmt}) is not a valid archive ({e})") from e
        skeleton = _skops_loads(body, what)
        engines = [
            _load_engine(f, b, f"{what}, engine part {i}")
            for i, (f, b) in enumerate(zip(fmts, blobs, strict=True))
        ]
    else:
        raise UnsafeModelError(f"unknown model format {fmt!r}")

    def put(leaf: Any) -> Any:
        if isinstance(leaf, FrameData):
            return leaf.frame()
        return engines[leaf.index] if isinstance(leaf, EngineRef) else leaf

    return _swap(skeleton, put)
