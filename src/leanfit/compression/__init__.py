"""Compression as a search (``lf.compress``): candidates from pruning, low-rank, quantization,
fewer or compiled trees and smaller students, all measured the same way, with the smallest /
fastest one within a tolerance of the best chosen from the accuracy-size-latency front. (Not
named "compress", which would shadow the function on the leanfit package.)"""

from .api import GENERATORS, Compressed, Generator, compress
from .candidate import TECHNIQUES, Candidate, Source

__all__ = ["GENERATORS", "TECHNIQUES", "Candidate", "Compressed", "Generator", "Source", "compress"]
