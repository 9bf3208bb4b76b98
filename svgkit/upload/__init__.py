"""Notebook 03's step: the evaluator bundle, its free preflight, and its upload to Fireworks.

- :mod:`svgkit.upload.bundle`: stage exactly what is uploaded (traced modules, pinned
  requirements, a Dockerfile), refuse secrets and oversized bundles, reproducible hash.
- :mod:`svgkit.upload.local_test`: the preflight; run the staged bundle in a fresh, cached virtual environment
  exactly as ``ep local-test --ignore-docker`` does, offline and free.

Command line: ``python -m svgkit.upload stage [DIR]`` and ``python -m svgkit.upload preflight [DIR]``.
The preflight names are loaded on first use (they import Eval Protocol), so staging stays quick.
"""

import importlib
from typing import Any

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
    "DockerStatus",
    "PreflightResult",
    "PreflightVenv",
    "SecretFinding",
    "docker_status",
    "preflight",
    "read_bundle",
    "scan_for_secrets",
    "stage_bundle",
]

_LAZY = {"DockerStatus": "local_test", "PreflightResult": "local_test", "PreflightVenv": "local_test",
         "docker_status": "local_test", "preflight": "local_test"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
