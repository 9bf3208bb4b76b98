"""Shared test set-up: offline, no keys, no uploads, no cost-map download."""

import os
from pathlib import Path

import pytest

os.environ["EP_NO_UPLOAD"] = "1"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch, tmp_path):
    """Every test starts offline with no keys, and writes outputs to a temporary folder."""
    for key in ("FIREWORKS_API_KEY", "OPENAI_API_KEY", "SVGKIT_JUDGE_API_KEY", "FIREWORKS_ACCOUNT_ID",
                "SVGKIT_JUDGE_MODEL", "SVGKIT_JUDGE_BASE_URL", "SVGKIT_GENERATION_BASE_URL",
                "FIREWORKS_API_BASE", "FIREWORKS_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SVGKIT_MODE", "offline")
    monkeypatch.setenv("SVGKIT_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("SVGKIT_JUDGE_CACHE", str(tmp_path / "judge-cache.sqlite"))


@pytest.fixture
def shared_dir() -> Path:
    """The read-only reference data beside the checkout (CI has it)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside this checkout")
    return SHARED
