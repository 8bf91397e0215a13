"""Compiled tree prediction: treelite turns the trees into a model, tl2cgen into C, gcc into a
shared library. Beside tl2cgen's code the library gets leanfit's own loop over rows
(``leanfit_rows_f32`` / ``_f64``): one ctypes call per block of rows copies each row into the
library's ``union Entry`` buffer (a NaN becomes the missing mark, the integer -1), calls the
generated ``predict`` and writes the outputs; so a single row costs the trees' comparisons, one
foreign call and one output array, and the caller's rows are never written to (tl2cgen's
``predict`` overwrites its Entry buffer with quantized thresholds).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


#: leanfit's row loop, compiled into the library beside tl2cgen's sources (LEAF_T: the type of
#: ``predict``'s result, read from tl2cgen's header)
_ROWS_C = """
#include "header.h"

#define LEANFIT_ROWS(NAME, T)                                                        \\
  void NAME(const T* X, int64_t n, int64_t p, LEAF_T* out, int64_t k) {               \\
    union Entry* e = (union Entry*)malloc(sizeof(union Entry) * (size_t)(p > 0 ? p : 1)); \\
    if (e == NULL) return;                                                            \\
    for (int64_t i = 0; i < n; ++i) {                                                 \\
      const T* x = X + i * p;                                                         \\
      for (int64_t j = 0; j < p; ++j) {                                               \\
        if (isnan(x[j])) { e[j].missing = -1; } else { e[j].fvalue = x[j]; }          \\
      }                                                                               \\
      for (int64_t c = 0; c < k; ++c) out[i * k + c] = 0; /* predict adds to it */    \\
      predict(e, 0, out + i * k);                                                     \\
    }                                                                                 \\
    free(e);                                                                          \\
  }

LEANFIT_ROWS(leanfit_rows_f32, float)
LEANFIT_ROWS(leanfit_rows_f64, double)
"""


@dataclass
class CompiledTrees:
    """A compiled tree ensemble: ``predict`` maps rows to the engine's outputs (probabilities or
    values, with its link applied), all rows in one call of the library's row loop."""

    path: str
    n_features: int
    n_outputs: int
    size_bytes: int
    _lib: Any
    _dtype: Any
    _int: Any
    _out_dtype: Any
    _single: dict[Any, tuple[np.ndarray, Callable[[], None]]] = field(init=False, repr=False)
    _out1: np.ndarray = field(init=False, repr=False)
    _lock: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # single rows go through buffers made once, their addresses and sizes bound once as
        # ctypes objects: a numpy array's ``.ctypes.data`` alone costs about 1 us, as much as
        # a small forest's comparisons
        self._out1 = np.zeros((1, self.n_outputs), dtype=self._out_dtype)
        out_ptr = ctypes.c_void_p(int(self._out1.ctypes.data))
        one, p, k = (
            ctypes.c_int64(1),
            ctypes.c_int64(self.n_features),
            ctypes.c_int64(self.n_outputs),
        )
        self._single = {}
        for dt, name in ((np.float32, "leanfit_rows_f32"), (np.float64, "leanfit_rows_f64")):
            buf = np.zeros((1, self.n_features), dtype=dt)
            fn = self._lib[name]  # its own function object: no argtypes, ctypes args as given
            fn.restype = None
            self._single[np.dtype(dt)] = (
                buf,
                functools.partial(fn, ctypes.c_void_p(int(buf.ctypes.data)), one, p, out_ptr, k),
            )
        self._lock = threading.Lock()  # the buffers are shared; ctypes releases the GIL

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
        rows = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64]
        for name in ("leanfit_rows_f32", "leanfit_rows_f64"):
            fn = getattr(lib, name)
            fn.argtypes = rows
            fn.restype = None
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
        """Outputs (n, n_outputs) as float64 for rows X (float32 or float64 rows are read as
        they are; NaN is a missing value)."""
        X = np.asarray(X)
        if X.dtype != np.float32 and X.dtype != np.float64:
            X = X.astype(np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"rows have shape {X.shape}; the model takes {self.n_features} columns"
            )
        n = X.shape[0]
        if n == 1:
            buf, call = self._single[X.dtype]
            with self._lock:
                buf[:] = X
                call()
                return self._out1.astype(np.float64)  # a copy: the buffer is reused
        if not X.flags.c_contiguous:
            X = np.ascontiguousarray(X)
        out = np.empty((n, self.n_outputs), dtype=self._out_dtype)
        fn = self._lib.leanfit_rows_f32 if X.dtype == np.float32 else self._lib.leanfit_rows_f64
        fn(X.ctypes.data, n, self.n_features, out.ctypes.data, self.n_outputs)
        return out if out.dtype == np.float64 else out.astype(np.float64)


def compile_trees(method: str, fitted: Any, k: int | None, quantize: bool = True) -> CompiledTrees:
    """Compile a fit's trees (the first ``k`` iterations) to a shared library in a new temporary
    directory (kept while the process runs: the library is loaded from it): tl2cgen's C code
    plus leanfit's row loop, built by gcc -O3."""
    _, tl2cgen = _need_compiler()
    model = _treelite_model(method, fitted, k)
    folder = tempfile.mkdtemp(prefix="leanfit-trees-")
    src = os.path.join(folder, "src")
    with _output_kept(os.path.join(folder, "compile.log")):
        params = {"parallel_comp": max(os.cpu_count() or 1, 1), "quantize": int(quantize)}
        tl2cgen.generate_c_code(model, src, params, verbose=False)
        _add_row_loop(src)
        built = tl2cgen.create_shared("gcc", src, verbose=False)
    path = os.path.join(folder, "trees.so")
    os.replace(built, path)
    return CompiledTrees.load(path)


def _add_row_loop(src: str) -> None:
    """Write leanfit's row loop beside tl2cgen's sources and list it in tl2cgen's recipe."""
    with open(os.path.join(src, "header.h")) as f:
        found = re.search(r"void predict\(union Entry\* \w+, int \w+, (\w+)\* \w+\)", f.read())
    if found is None:
        raise RuntimeError("tl2cgen's header.h has no predict(union Entry*, int, T*) to call")
    code = f"#define LEAF_T {found.group(1)}\n" + _ROWS_C
    with open(os.path.join(src, "leanfit_rows.c"), "w") as f:
        f.write(code)
    recipe_path = os.path.join(src, "recipe.json")
    with open(recipe_path) as f:
        recipe = json.load(f)
    recipe["sources"].append({"name": "leanfit_rows", "length": code.count("\n")})
    with open(recipe_path, "w") as f:
        json.dump(recipe, f)


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
