"""Compiled tree prediction: treelite turns the trees into a model, tl2cgen into C, gcc into a
shared library whose ``predict`` function is called on each row directly (no per-call data
structures), so a single row costs the trees' comparisons and little else.

The library's ``union Entry`` holds one feature as a float (float32 or float64, the model's
threshold type) or, for a missing value, the integer -1; the output buffer has the model's leaf
type. Both types are read from the library itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CompiledTrees", "compile_trees", "single_row_us"]

EXTRA = "compile-trees"
_TYPES = {"float32": (np.float32, np.int32), "float64": (np.float64, np.int64)}


def _need_compiler() -> tuple[Any, Any]:
    """treelite and tl2cgen, or an error naming the extra that installs them."""
    try:
        import tl2cgen
        import treelite
    except ImportError as err:
        raise ImportError(
            f"compiled trees need treelite and tl2cgen ({err.name} is not installed): "
            f"pip install 'leanfit[{EXTRA}]'"
        ) from None
    return treelite, tl2cgen


def _treelite_model(method: str, fitted: Any, k: int | None) -> Any:
    """The fit's trees (its first ``k`` boosting iterations) as a treelite model."""
    treelite, _ = _need_compiler()
    if method in ("gbm", "lightgbm"):
        import lightgbm as lgb

        return treelite.frontend.from_lightgbm(
            lgb.Booster(model_str=fitted.model_to_string(num_iteration=k))
        )
    if method == "xgb_tree":
        booster = fitted.est[:k] if k is not None else fitted.est
        return treelite.frontend.from_xgboost_json(bytes(booster.save_raw("json")).decode())
    if method == "rf":
        return treelite.sklearn.import_model(fitted.est)
    raise ValueError(f"compiled trees cover gbm, lightgbm, xgb_tree and rf, not {method!r}")


@dataclass
class CompiledTrees:
    """A compiled tree ensemble: ``predict`` maps rows to the engine's outputs (probabilities or
    values, with its link applied), one row at a time through the library's own function."""

    path: str
    n_features: int
    n_outputs: int
    size_bytes: int
    _lib: Any
    _dtype: Any
    _int: Any
    _out_dtype: Any

    @classmethod
    def load(cls, path: str) -> CompiledTrees:
        lib = ctypes.CDLL(path)
        lib.get_threshold_type.restype = ctypes.c_char_p
        lib.get_leaf_output_type.restype = ctypes.c_char_p
        lib.get_num_feature.restype = ctypes.c_int32
        lib.get_num_target.restype = ctypes.c_int32
        n_target = int(lib.get_num_target())
        classes = (ctypes.c_int32 * n_target)()
        lib.get_num_class(classes)
        lib.predict.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.predict.restype = None
        dtype, as_int = _TYPES[lib.get_threshold_type().decode()]
        out_dtype = _TYPES[lib.get_leaf_output_type().decode()][0]
        return cls(
            path=path,
            n_features=int(lib.get_num_feature()),
            n_outputs=n_target * max(int(c) for c in classes),
            size_bytes=os.path.getsize(path),
            _lib=lib,
            _dtype=dtype,
            _int=as_int,
            _out_dtype=out_dtype,
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Outputs (n, n_outputs) for rows X (NaN is a missing value)."""
        X = np.asarray(X, dtype=self._dtype)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1] != self.n_features:
            raise ValueError(f"rows have {X.shape[1]} columns; the model takes {self.n_features}")
        out = np.zeros((len(X), self.n_outputs), dtype=self._out_dtype)
        fn = self._lib.predict
        step = out.strides[0]
        nan = np.isnan(X)
        if not nan.any():  # a row of floats is already an array of the library's Entry
            X = np.ascontiguousarray(X)
            rows, width = X.ctypes.data, X.strides[0]
            outs = out.ctypes.data
            for i in range(len(X)):
                fn(rows + i * width, 0, outs + i * step)
            return out.astype(float, copy=False)
        entry = np.empty(self.n_features, dtype=self._dtype)
        missing = entry.view(self._int)  # the union's int: -1 marks a missing value
        ptr = entry.ctypes.data
        for i in range(len(X)):
            entry[:] = X[i]
            missing[nan[i]] = -1
            fn(ptr, 0, out[i].ctypes.data)
        return out.astype(float, copy=False)


def compile_trees(method: str, fitted: Any, k: int | None, quantize: bool = True) -> CompiledTrees:
    """Compile a fit's trees (the first ``k`` iterations) to a shared library in a new temporary
    directory (kept while the process runs: the library is loaded from it)."""
    _, tl2cgen = _need_compiler()
    model = _treelite_model(method, fitted, k)
    folder = tempfile.mkdtemp(prefix="leanfit-trees-")
    path = os.path.join(folder, "trees.so")
    with _output_kept(os.path.join(folder, "compile.log")):
        tl2cgen.export_lib(
            model,
            toolchain="gcc",
            libpath=path,
            params={"parallel_comp": max(os.cpu_count() or 1, 1), "quantize": int(quantize)},
            verbose=False,
        )
    return CompiledTrees.load(path)


@contextlib.contextmanager
def _output_kept(log: str) -> Iterator[None]:
    """Send what the C++ libraries print (treelite's notes on its version, tl2cgen's progress
    through Python's stdout) to ``log`` and a buffer; on failure, raise with that text, so
    nothing is lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "w+b") as f, contextlib.redirect_stdout(io.StringIO()) as said:
        os.dup2(f.fileno(), 2)
        try:
            yield
        except Exception as err:
            os.dup2(saved, 2)
            f.seek(0)
            text = (said.getvalue() + f.read().decode(errors="replace")).strip()
            raise RuntimeError(f"compiling the trees failed: {err}\n{text}") from err
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def single_row_us(
    predict: Callable[[np.ndarray], Any], rows: np.ndarray, repeats: int = 3
) -> float:
    """The median microseconds of ``predict`` on one row, over ``rows`` taken one at a time
    (after one warm-up call), repeated ``repeats`` times."""
    rows = np.asarray(rows)
    predict(rows[:1])
    times = []
    for _ in range(repeats):
        for i in range(len(rows)):
            one = rows[i : i + 1]
            t = time.perf_counter()
            predict(one)
            times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)
