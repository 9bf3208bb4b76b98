"""Notebook 03's step: the evaluator bundle, its free preflight, and its upload to Fireworks.

- :mod:`svgkit.upload.bundle`: stage exactly what is uploaded (traced modules, pinned
  requirements, a Dockerfile), refuse secrets and oversized bundles, reproducible hash.
- :mod:`svgkit.upload.local_test`: the preflight; run the staged bundle in a fresh, cached virtual environment
  exactly as ``ep local-test --ignore-docker`` does, offline and free.
- :mod:`svgkit.upload.publish`: the judge the upload will use, its secret, the upload itself
  (create, replace or reuse by bundle hash; code read back; wait for ACTIVE), deletion; live on
  Fireworks or rehearsed on the local stand-in (the session of :func:`svgkit.rehearsal.open_platform`).

Command line: ``python -m svgkit.upload stage [DIR]`` and ``python -m svgkit.upload preflight [DIR]``.
The preflight and publish names are loaded on first use (they import Eval Protocol), so staging stays quick.
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
    "JudgeSecretCheck",
    "PreflightResult",
    "PreflightVenv",
    "SecretFinding",
    "SecretPut",
    "UploadOutcome",
    "UploadRefused",
    "UploadedJudge",
    "check_judge_secret",
    "delete_evaluator",
    "docker_status",
    "preflight",
    "put_judge_secret",
    "read_bundle",
    "requests_table",
    "scan_for_secrets",
    "stage_bundle",
    "upload_evaluator",
    "upload_summary",
    "uploaded_judge",
]

_LAZY = {name: "local_test" for name in ("DockerStatus", "PreflightResult", "PreflightVenv", "docker_status",
                                         "preflight")}
_LAZY.update({name: "publish" for name in ("JudgeSecretCheck", "SecretPut", "UploadOutcome",
                                           "UploadRefused", "UploadedJudge", "check_judge_secret",
                                           "delete_evaluator", "put_judge_secret",
                                           "requests_table", "upload_evaluator", "upload_summary", "uploaded_judge")})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
