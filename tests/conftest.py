"""Shared test set-up: offline, no keys, no uploads, no cost-map download."""

import contextlib
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
                "SVGKIT_ROLLOUT_SERVER_URL", "SVGKIT_ROLLOUT_MODEL_BASE_URL", "EP_REMOTE_API_KEY",
                "EP_REMOTE_ROLLOUT_PROCESSOR_BASE_URL", "EP_MODEL_BASE_URL", "FW_TRACING_GATEWAY_BASE_URL",
                "FIREWORKS_API_BASE", "FIREWORKS_BASE_URL", "SVGKIT_JUDGE"):
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


# --------------------------------------------------------------------------- stand-ins (svgkit.standin)
@pytest.fixture
def standin():
    """A bare stand-in server on 127.0.0.1: add routes (``standin.add_route``) and faults (``standin.push``)."""
    from svgkit.standin import StandinServer

    with StandinServer() as server:
        yield server


@pytest.fixture
def chat_standin():
    """An OpenAI-compatible chat stand-in; set ``.responder`` or ``.default``, or ``.push`` answers and faults."""
    from svgkit.standin import ChatStandin

    with ChatStandin() as server:
        yield server


@pytest.fixture
def fw():
    """The Fireworks control-plane stand-in, its clock still (``speed=0``): a test moves it with ``.advance``."""
    from svgkit.standin import FireworksStandin

    with FireworksStandin(speed=0) as server:
        yield server


@pytest.fixture
def live_platform(monkeypatch):
    """Opens a *live* notebook session against a Fireworks stand-in that plays Fireworks.

    ``with live_platform("rft", api_key=KEY, speed=0) as (remote, session):`` sets the key and
    ``FIREWORKS_API_BASE`` (to the stand-in), gives the spending opt-in, and checks the session is
    live; the session is closed and the stand-in stopped at the end of the block. The variables
    stay set until the test ends (monkeypatch undoes them), so a second block in one test works too.
    """
    from svgkit.config import get_settings, with_spending
    from svgkit.rehearsal import open_platform
    from svgkit.standin import FireworksStandin

    @contextlib.contextmanager
    def open_live(step, *, api_key, speed=0.0):
        with FireworksStandin(speed=speed) as remote:
            monkeypatch.delenv("SVGKIT_MODE", raising=False)
            monkeypatch.setenv("FIREWORKS_API_KEY", api_key)
            monkeypatch.setenv("FIREWORKS_API_BASE", remote.url)
            session = open_platform(step, with_spending(True, get_settings()))
            try:
                assert session.mode == "live"
                yield remote, session
            finally:
                session.close()

    return open_live


def evaluator_folder(parent: Path, name: str = "bundle", *, test: str = "test_svg") -> Path:
    """A minimal evaluator folder to upload to the Fireworks stand-in: ``requirements.txt`` and
    ``<test>.py`` with an empty ``<test>()`` (``from conftest import evaluator_folder``)."""
    folder = parent / name
    folder.mkdir()
    (folder / "requirements.txt").write_text("svgkit\n")
    (folder / f"{test}.py").write_text(f"def {test}():\n    pass\n")
    return folder
