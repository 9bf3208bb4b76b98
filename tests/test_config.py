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


def test_live_mode_without_keys_fails_loudly_only_in_the_steps_that_run():
    from svgkit.config import with_spending
    from svgkit.judge import default_judge

    s = get_settings({"SVGKIT_MODE": "live"}, read_dotenv=False)
    assert s.mode("dataset") == "live", "the dataset step needs network, no key"
    banner = str(mode_banner(settings=s))  # never raises, even for steps that will
    assert "**Will fail:** generate, judge, upload, rft" in banner
    assert "| dataset | live | network only |" in banner
    assert "Will fail" not in str(mode_banner(steps=["dataset"], settings=s))
    spending = with_spending(True, s)
    with pytest.raises(MissingKeyError, match="FIREWORKS_API_KEY"):
        spending.mode("generate")
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY or SVGKIT_JUDGE_API_KEY"):
        default_judge(spending)


def test_live_held_back_by_the_spending_opt_in_is_said_in_the_banner():
    from svgkit.config import with_spending

    for env in ({"SVGKIT_MODE": "live"}, {"FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": KEY}):
        held = with_spending(False, get_settings(env, read_dotenv=False))
        rows = describe_mode(held, steps=["generate", "judge"])
        assert {r.mode for r in rows} == {"offline"} and all(r.held_back for r in rows)
        banner = str(mode_banner(steps=["generate", "judge"], settings=held))
        assert "**Live held back:** generate, judge" in banner and "ALLOW_SPEND = True" in banner
    plain = with_spending(False, get_settings({}, read_dotenv=False))
    assert "held back" not in str(mode_banner(settings=plain)), "nothing was asked for, nothing is held back"


def test_forced_live_dataset_download_raises_instead_of_falling_back(monkeypatch, tmp_path):
    from svgkit.dataset import DownloadError, load_prompts

    monkeypatch.setenv("SVGKIT_MODE", "live")
    closed = "http://127.0.0.1:9/questions.json"  # nothing listens on the discard port
    with pytest.raises(DownloadError):
        load_prompts(url=closed, cache_dir=tmp_path, timeout=2)
    monkeypatch.delenv("SVGKIT_MODE")
    fallback = load_prompts(mode="live", url=closed, cache_dir=tmp_path, timeout=2)
    assert fallback.source == "bundled" and fallback.notice, "without SVGKIT_MODE=live it falls back and says so"


def test_eval_model_is_one_setting_away(monkeypatch):
    from svgkit.config import MODELS, with_spending
    from svgkit.evaluation import evaluator_plan

    assert get_settings({}, read_dotenv=False).eval_model == MODELS.eval_policy
    base = get_settings({"SVGKIT_EVAL_MODEL": MODELS.training_base, "FIREWORKS_API_KEY": KEY}, read_dotenv=False)
    assert base.eval_model == MODELS.training_base
    from svgkit.config import FILES, output_path

    output_path(FILES.train).write_text("{}\n")
    plan = evaluator_plan(with_spending(True, base))
    assert plan.mode == "live" and plan.completion_params["model"].endswith(MODELS.training_base)
