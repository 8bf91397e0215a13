"""Compression as a search: candidates from pruning, low-rank, quantization, fewer or compiled
trees and smaller students, all measured the same way, with the smallest / fastest one within a
tolerance of the best chosen from the accuracy-size-latency front."""

import sys
import types
from typing import Any

from .api import GENERATORS, Compressed, Generator, compress
from .candidate import TECHNIQUES, Candidate, Source

__all__ = ["GENERATORS", "TECHNIQUES", "Candidate", "Compressed", "Generator", "Source", "compress"]


class _CallablePackage(types.ModuleType):
    """Importing this package binds it on ``leanfit`` as ``leanfit.compress``, the name of the
    function ``lf.compress``: called, the package is that function, so both spellings work."""

    def __call__(self, *args: Any, **kwargs: Any) -> Compressed:
        return compress(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
