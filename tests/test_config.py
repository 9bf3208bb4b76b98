"""svgkit.config: per-step mode, forced modes, secrets never shown, one output folder."""

import pytest

from svgkit.config import MissingKeyError, Secret, describe_mode, get_settings, output_dir
from svgkit.display import mode_banner

KEY = "sk-test-0123456789abcdef"


def test_offline_without_keys_and_live_per_step_with_keys():
    s = get_settings({}, read_dotenv=False)
    assert {s.mode(step) for step in ("dataset", "generate", "judge", "upload", "rft")} == {"offline"}
    s = get_settings({"FIREWORKS_API_KEY": KEY}, read_dotenv=False)
    assert s.mode("generate") == "live" and s.mode("rft") == "live" and s.mode("dataset") == "live"
    assert s.mode("judge") == "offline", "the judge needs OPENAI_API_KEY"


def test_forced_modes():
    s = get_settings({"FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": KEY, "SVGKIT_MODE": "offline"}, read_dotenv=False)
    assert s.mode("generate") == "offline" and s.mode("judge") == "offline"
    s = get_settings({"SVGKIT_MODE": "live"}, read_dotenv=False)
    with pytest.raises(MissingKeyError, match="FIREWORKS_API_KEY"):
        s.mode("generate")
    with pytest.raises(ValueError, match="SVGKIT_MODE"):
        get_settings({"SVGKIT_MODE": "online"}, read_dotenv=False)


def test_keys_never_appear_in_reprs_or_banner():
    s = get_settings({"FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": KEY}, read_dotenv=False)
    shown = repr(s) + str(s) + repr(describe_mode(s)) + str(mode_banner(settings=s))
    assert KEY not in shown
    assert "(set)" in str(mode_banner(settings=s))
    assert s.fireworks_api_key.get() == KEY
    assert repr(Secret(None)) == "Secret(unset)" and not Secret("")


def test_dotenv_is_read_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={KEY}\nSVGKIT_MODE=live\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVGKIT_MODE", "offline")
    s = get_settings()
    assert bool(s.judge_api_key) and s.forced_mode == "offline"


def test_output_dir_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("SVGKIT_OUTPUT_DIR", str(tmp_path / "out"))
    assert output_dir() == tmp_path / "out" and (tmp_path / "out").is_dir()


def test_paid_steps_need_the_spending_opt_in():
    from svgkit.config import PAID_STEPS, with_spending

    keys = {"FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": KEY}
    guarded = with_spending(False, get_settings(keys, read_dotenv=False))
    assert {guarded.mode(step) for step in PAID_STEPS} == {"offline"}
    assert guarded.mode("dataset") == "live", "downloading SVGBench costs nothing"
    assert "spending is not enabled" in str(mode_banner(settings=guarded))
    allowed = with_spending(True, guarded)
    assert {allowed.mode(step) for step in PAID_STEPS} == {"live"}


def test_judge_key_can_come_from_svgkit_judge_api_key():
    s = get_settings({"SVGKIT_JUDGE_API_KEY": KEY, "SVGKIT_JUDGE_BASE_URL": "https://api.fireworks.ai/inference/v1"},
                     read_dotenv=False)
    assert s.mode("judge") == "live" and s.judge_api_key.get() == KEY
    both = get_settings({"SVGKIT_JUDGE_API_KEY": "judge-key", "OPENAI_API_KEY": KEY}, read_dotenv=False)
    assert both.judge_api_key.get() == "judge-key"
