"""Native thread pools (BLAS, OpenMP) held at one thread while engines fit and predict.

Engines run single-threaded inside tasks so that results do not depend on the worker count and
parallel workers do not oversubscribe the cores. Finding the pools means reading
``/proc/self/maps`` (about 3 ms, more than a small fit), so the pools found are remembered until
a module is imported: an engine imported later may bring a pool of its own.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _controller(n_modules: int) -> Any:
    """The process's thread pools as found when ``n_modules`` modules were imported."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_thread(user_api: str | None = None) -> Any:
    """Limit the pools (all, or only ``"blas"`` / ``"openmp"``) to one thread.

    Use as a context manager; the previous limits come back on exit.
    """
    return _controller(len(sys.modules)).limit(limits=1, user_api=user_api)
