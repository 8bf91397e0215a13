"""Native thread pools held at one thread while engines fit (leanfit.pools)."""

from __future__ import annotations

import sys
import types

from threadpoolctl import threadpool_info

from leanfit.pools import _controller, one_thread


def _threads() -> dict[str, int]:
    return {p["filepath"]: p["num_threads"] for p in threadpool_info()}


def test_one_thread_limits_every_pool_and_restores_them_on_exit():
    before = _threads()
    assert before  # numpy's BLAS at least
    with one_thread():
        assert set(_threads().values()) == {1}
    assert _threads() == before


def test_only_the_named_api_is_limited():
    before = {p["filepath"]: p for p in threadpool_info()}
    with one_thread("blas"):
        for info in threadpool_info():
            expected = 1 if info["user_api"] == "blas" else before[info["filepath"]]["num_threads"]
            assert info["num_threads"] == expected


def test_pools_are_found_again_after_an_import(monkeypatch):
    """The ~3 ms search is reused until a module is imported (it may bring its own pool)."""
    first = _controller(len(sys.modules))
    assert _controller(len(sys.modules)) is first
    monkeypatch.setitem(sys.modules, "leanfit_test_new_engine", types.ModuleType("engine"))
    assert _controller(len(sys.modules)) is not first
