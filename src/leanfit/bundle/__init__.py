"""Model bundles: one file (``.lfb``) that a fitted result is saved to and loaded from, with no
pickle anywhere, holding the model (ONNX, or the fit in the store's safe formats), the input
schema, training metrics, versions, a reference sample for drift and the SHA-256 of every part;
and scoring new data with it, in memory or streamed from files in chunks."""

from .file import FORMAT_VERSION, Bundle, BundleError, load_bundle, save_bundle
from .schema import ColumnSpec, Schema

__all__ = [
    "FORMAT_VERSION",
    "Bundle",
    "BundleError",
    "ColumnSpec",
    "Schema",
    "load_bundle",
    "save_bundle",
]
