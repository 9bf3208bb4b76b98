"""open_platform: a rehearsal on the local stand-in offline, the real clients pointed at it, state kept."""

import os

import pytest

from svgkit.config import PLATFORM, get_settings, with_spending
from svgkit.rehearsal import PlatformSession, open_platform


def test_offline_opens_a_rehearsal_that_points_both_clients_at_the_standin_and_restores_them(tmp_path):
    before = {k: os.environ.get(k) for k in ("FIREWORKS_API_BASE", "FIREWORKS_BASE_URL")}
    session = open_platform("upload", state_dir=tmp_path / "standin")
    try:
        assert session.rehearsal and session.api.rehearsal
        assert "rehearsal on a local stand-in" in session.banner and "nothing leaves" in session.banner
        assert os.environ["FIREWORKS_API_BASE"] == session.standin.url == os.environ["FIREWORKS_BASE_URL"]
        assert session.standin.url.startswith("http://127.0.0.1:")
        assert session.api.put_secret("OPENAI_API_KEY", "sk-rehearsal-value-123456") is not None
        assert any("secrets" in str(c) for c in session.transcript())
        assert all("sk-rehearsal-value-123456" not in str(c) for c in session.transcript())
    finally:
        session.close()
        session.close()  # safe twice
    assert {k: os.environ.get(k) for k in before} == before


def test_a_second_session_finds_what_the_first_created(tmp_path):
    first = open_platform("upload", state_dir=tmp_path / "standin")
    try:
        first.api.put_secret("OPENAI_API_KEY", "sk-rehearsal-value-123456")
    finally:
        first.close()
    second = open_platform("rft", state_dir=tmp_path / "standin")
    try:
        assert second.api.secret_exists("OPENAI_API_KEY")
    finally:
        second.close()


def test_without_the_spending_opt_in_a_key_still_rehearses(monkeypatch, tmp_path):
    monkeypatch.delenv("SVGKIT_MODE")
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-test-key-not-real")
    session = open_platform("upload", with_spending(False, get_settings()), state_dir=tmp_path / "s")
    try:
        assert session.mode == "rehearsal"
    finally:
        session.close()


def test_live_with_key_and_opt_in_talks_to_the_configured_control_plane(live_platform):
    with live_platform("upload", api_key="fw-test-key-not-real") as (remote, session):  # remote plays "Fireworks"
        assert session.mode == "live" and session.standin is None
        assert session.api.base_url == remote.url and "LIVE" in session.banner
        assert session.transcript() == ()
        session.close()
        assert remote.requests_to("GET", r"/verifyApiKey")


def test_live_mode_without_a_key_fails_loudly(monkeypatch, tmp_path):
    from svgkit.config import MissingKeyError

    monkeypatch.setenv("SVGKIT_MODE", "live")
    with pytest.raises(MissingKeyError):
        open_platform("upload", with_spending(True, get_settings()), state_dir=tmp_path / "s")


def test_rehearsal_waits_scale_with_the_clock_and_the_requests_are_tabled(tmp_path):
    session = open_platform("rft", state_dir=tmp_path / "standin", speed=600)
    try:
        poll_s, timeout_s = session.wait_timing(3600)
        assert session.speed == 600 and timeout_s == 6 and poll_s < 1
        mark = session.request_count()
        for _ in range(3):
            session.api.get_dataset("missing-dataset")
        table = session.requests_table(since=mark)
        assert table.count("\n") == 2
        assert "| GET | `/v1/accounts/svgkit-standin/datasets/missing-dataset` | 404 | 3 |" in table
    finally:
        session.close()
    live = PlatformSession("live", session.api)
    assert live.wait_timing(3600) == (PLATFORM.poll_interval_s, 3600)
    assert "Live run" in live.requests_table() and live.request_count() == 0
