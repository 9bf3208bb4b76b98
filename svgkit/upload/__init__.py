"""Notebook 03's step: the evaluator bundle, its free preflight, and its upload to Fireworks.

- :mod:`svgkit.upload.bundle`: stage exactly what is uploaded (traced modules, pinned
  requirements, a Dockerfile), refuse secrets and oversized bundles, reproducible hash.
"""

from .bundle import (
    Bundle,
    BundleError,
    BundleFile,
    SecretFinding,
    read_bundle,
    scan_for_secrets,
    stage_bundle,
)

__all__ = [
    "Bundle",
    "BundleError",
    "BundleFile",
    "SecretFinding",
    "read_bundle",
    "scan_for_secrets",
    "stage_bundle",
]
