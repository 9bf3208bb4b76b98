"""The judge package: verdict records, the Judge base (inputs, cache, usage), the entry points,
and the public surface of svgkit.judge, svgkit.guards and svgkit.reading."""

import ast
import importlib
import inspect
import json

import pytest

import svgkit.judge as judge_pkg
from svgkit.config import get_settings
from svgkit.judge import (
    Judge,
    JudgeCache,
    RequirementVerdict,
    RuleJudge,
    Verdict,
    VisionJudge,
    ajudge,
    default_judge,
    judge,
)
from svgkit.render import render_png

PICTURE = ('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" '
           'fill="#87ceeb"/><text x="150" y="30" text-anchor="middle" font-size="20">Farm Day</text></svg>')


@pytest.fixture(scope="module")
def picture():
    res = render_png(PICTURE)
    assert res.ok, res.error
    return res


class CountingJudge(Judge):
    """Fulfils every requirement; counts how often it was really asked."""

    name = "counting"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.asked = 0

    async def _evaluate(self, png, svg, requirements, prompt):
        self.asked += 1
        items = tuple(RequirementVerdict(i, r, True, "yes") for i, r in enumerate(requirements))
        return Verdict(judge=self.name, items=items, fulfilled=len(items), total=len(items), attempts=1,
                       input_tokens=10, output_tokens=2, cost_usd=0.5)


# ------------------------------------------------------------------ records
def test_verdict_record_round_trips_and_scores():
    items = (RequirementVerdict(0, "a", True, "seen"), RequirementVerdict(1, "b", False, "?", decided=False))
    v = Verdict(judge="rule", items=items, fulfilled=1, total=2, undecided=(1,))
    assert v.score == 0.5 and v.itemised
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    forced = v.with_unfulfilled([0], "written as text")
    assert forced.fulfilled == 0 and forced.items[0].reason == "written as text"
    assert v.with_unfulfilled([], "x") is v
    bad = Verdict(judge="x", items=(), fulfilled=2, total=2, valid=False, error="boom")
    assert bad.score == 0.0
    assert Verdict(judge="x", items=(), fulfilled=9, total=2).score == 1.0  # clamped


def test_invalid_verdict_says_why_and_keeps_its_cost():
    v = Verdict.invalid("vision:m", ["a", "b", "c"], "timed out", attempts=3, cost_usd=0.01)
    assert not v.valid and v.error == "timed out" and v.total == 3 and v.items == ()
    assert v.score == 0 and v.attempts == 3 and v.cost_usd == 0.01


# ------------------------------------------------------------------ the base: inputs, cache, usage
def test_judge_needs_requirements(picture):
    with pytest.raises(ValueError, match="at least one requirement"):
        RuleJudge().judge(picture, [])


def test_judge_rejects_unknown_image_types():
    with pytest.raises(TypeError, match="PNG bytes"):
        RuleJudge().judge(12345, ["x"])
    with pytest.raises(FileNotFoundError, match="not a file"):
        RuleJudge().judge("/nonexistent/picture.png", ["x"])


def test_judge_accepts_png_bytes_a_path_and_a_render_result(picture, tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(picture.png)
    reqs = ["The title 'Farm Day' is written.", "The background is light blue."]
    from_result = RuleJudge().judge(picture, reqs)
    from_path = RuleJudge().judge(path, reqs, svg=picture.svg)
    from_bytes = RuleJudge().judge(picture.png, reqs)  # no SVG: labels undecided
    assert from_result.items == from_path.items and from_result.fulfilled == 2
    assert [i.decided for i in from_bytes.items] == [False, True]


def test_cache_hits_are_free_and_counted(picture, tmp_path):
    j = CountingJudge(cache=tmp_path / "c.sqlite")
    first, again = j.judge(picture, ["a"]), j.judge(picture, ["a"])
    assert j.asked == 1 and not first.cached and again.cached and again.items == first.items
    assert (again.input_tokens, again.cost_usd, again.attempts) == (0, 0.0, 0)
    u = j.usage
    assert (u.verdicts, u.calls, u.cache_hits, u.input_tokens, u.cost_usd) == (2, 1, 1, 10, 0.5)
    j.reset_usage()
    assert j.usage.verdicts == 0
    assert CountingJudge(cache=False).cache is None and isinstance(CountingJudge(cache=True).cache, JudgeCache)


def test_judge_many_keeps_order(picture):
    j = CountingJudge()
    verdicts = j.judge_many([(picture, ["a"]), (picture.png, ["b", "c"])])
    assert [v.total for v in verdicts] == [1, 2] and j.asked == 2


def test_cache_stores_only_valid_verdicts(tmp_path):
    cache = JudgeCache(tmp_path / "v.sqlite")
    key = JudgeCache.key("rule", "v1", b"png", ["a"])
    assert key != JudgeCache.key("rule", "v1", b"png", ["a"], svg="<svg/>")
    cache.put(key, Verdict.invalid("rule", ["a"], "boom"))
    assert cache.get(key) is None and len(cache) == 0
    good = Verdict(judge="rule", items=(RequirementVerdict(0, "a", True, "ok"),), fulfilled=1, total=1)
    cache.put(key, good)
    assert cache.get(key) == good and len(cache) == 1
    cache.clear()
    assert len(cache) == 0


# ------------------------------------------------------------------ entry points
def test_default_judge_follows_the_mode():
    assert isinstance(default_judge(get_settings({"SVGKIT_MODE": "offline", "OPENAI_API_KEY": "k"},
                                                 read_dotenv=False)), RuleJudge)
    assert isinstance(default_judge(get_settings({}, read_dotenv=False)), RuleJudge)
    live = default_judge(get_settings({"OPENAI_API_KEY": "sk-x"}, read_dotenv=False), cache=None)
    assert isinstance(live, VisionJudge) and live.cache is None


def test_judge_function_uses_offline_rule_judge_and_render_result(picture):
    v = judge(picture, ["The title 'Farm Day' is written at the top."])
    assert v.judge == "rule" and v.fulfilled == 1 and v.items[0].decided


def test_ajudge_uses_the_judge_given(picture):
    import asyncio

    j = CountingJudge()
    v = asyncio.run(ajudge(picture, ["a", "b"], using=j))
    assert v.judge == "counting" and v.fulfilled == 2 and j.asked == 1


# ------------------------------------------------------------------ the public surface
OLD_NAMES = ["COLOUR_WORDS", "REQUIREMENT_KINDS", "CoverageReport", "InkStats", "Judge", "JudgeCache",
             "JudgeUsage", "RequirementVerdict", "RuleJudge", "Verdict", "VisionJudge", "ajudge",
             "default_judge", "ink_stats", "judge", "requirement_kind", "rule_coverage", "svg_texts",
             "token_cost", "written_requirements"]
NEW_NAMES = ["JudgeChoice", "JudgeNotChosenError", "choose_judge"]  # the judge choice (reward-safety issue)
MODULES = ["svgkit.guards", "svgkit.reading", "svgkit.canaries", "svgkit.judge.api", "svgkit.judge.base",
           "svgkit.judge.cache",
           "svgkit.judge.evidence", "svgkit.judge.records", "svgkit.judge.requirements", "svgkit.judge.rules",
           "svgkit.judge.vision"]


def test_every_import_of_the_single_module_judge_still_works():
    assert judge_pkg.__all__ == sorted(OLD_NAMES + NEW_NAMES, key=_isort_key)
    for name in OLD_NAMES:
        assert getattr(judge_pkg, name) is not None


def _defined_public_names(module) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") and n != "logger"}


def _isort_key(name: str) -> tuple[int, str]:
    """The project's order of ``__all__``: CONSTANTS, then Classes, then functions (ruff RUF022)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", MODULES)
def test_module_all_is_sorted_and_complete(name):
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    assert set(module.__all__) == _defined_public_names(module)
    for exported in module.__all__:
        assert hasattr(module, exported)


@pytest.mark.parametrize("name", [*MODULES, "svgkit.reward"])
def test_no_private_name_is_imported_from_another_module(name):
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module not in ("_aio", "_thread"):
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{name} imports {private} from {node.module}"


# ------------------------------------------------------------------ which judge scores (never the wrong one)
FW = "fw-test-not-a-real-key"


def _choice(env, *, live_rollouts):
    from svgkit.judge import choose_judge

    return choose_judge(get_settings(env, read_dotenv=False), live_rollouts=live_rollouts)


def test_live_rollouts_without_a_judge_key_are_refused_with_how_to_fix_it():
    from svgkit.judge import JudgeNotChosenError

    choice = _choice({"FIREWORKS_API_KEY": FW}, live_rollouts=True)
    assert choice.refused and not choice.safe_for_training
    for needed in ("OPENAI_API_KEY", "SVGKIT_JUDGE_API_KEY", "Fireworks", "secret", "SVGKIT_JUDGE=rule"):
        assert needed in choice.error, needed
    with pytest.raises(JudgeNotChosenError, match="OPENAI_API_KEY"):
        default_judge(get_settings({"FIREWORKS_API_KEY": FW}, read_dotenv=False), live_rollouts=True)
    assert FW not in choice.error and FW not in choice.describe()


def test_the_rule_judge_scores_live_rollouts_only_when_chosen():
    chosen = _choice({"FIREWORKS_API_KEY": FW, "SVGKIT_JUDGE": "rule"}, live_rollouts=True)
    assert not chosen.refused and chosen.judge == "rule" and not chosen.safe_for_training
    assert "SVGKIT_JUDGE=rule" in chosen.describe() and "not a training reward" in chosen.describe()
    judge_ = default_judge(get_settings({"FIREWORKS_API_KEY": FW, "SVGKIT_JUDGE": " Rule "}, read_dotenv=False),
                           live_rollouts=True)
    assert isinstance(judge_, RuleJudge)
    # chosen even with a judge key: the choice wins, and says so
    keyed = _choice({"OPENAI_API_KEY": "sk-test", "SVGKIT_JUDGE": "rule"}, live_rollouts=True)
    assert keyed.judge == "rule" and not keyed.refused


def test_offline_default_and_vision_choices():
    offline = _choice({}, live_rollouts=False)  # the offline notebooks and tests
    assert offline.judge == "rule" and not offline.refused and "offline" in offline.describe()
    vision = _choice({"OPENAI_API_KEY": "sk-test"}, live_rollouts=True)
    assert vision.judge == "vision" and vision.safe_for_training and vision.key_name == "OPENAI_API_KEY"
    assert "vision judge" in vision.describe() and "sk-test" not in vision.describe()
    other = _choice({"SVGKIT_JUDGE_API_KEY": "k", "OPENAI_API_KEY": "sk"}, live_rollouts=True)
    assert other.key_name == "SVGKIT_JUDGE_API_KEY"
    insisted = _choice({"SVGKIT_JUDGE": "vision"}, live_rollouts=False)
    assert insisted.refused and "SVGKIT_JUDGE=vision" in insisted.error
    with pytest.raises(ValueError, match="SVGKIT_JUDGE must be"):
        get_settings({"SVGKIT_JUDGE": "gpt"}, read_dotenv=False)


def test_the_mode_banner_says_the_rule_judge_was_chosen():
    from svgkit.config import describe_mode

    rows = {r.step: r for r in describe_mode(get_settings({"OPENAI_API_KEY": "sk", "SVGKIT_JUDGE": "rule"},
                                                          read_dotenv=False))}
    assert rows["judge"].mode == "offline" and "SVGKIT_JUDGE=rule" in rows["judge"].does


def test_the_mode_banner_warns_when_live_rollouts_have_no_judge():
    from svgkit.config import describe_mode

    rows = {r.step: r for r in describe_mode(get_settings({"FIREWORKS_API_KEY": FW}, read_dotenv=False))}
    assert rows["generate"].mode == "live" and "refuses" in rows["judge"].does
    offline = {r.step: r for r in describe_mode(get_settings({}, read_dotenv=False))}
    assert "refuses" not in offline["judge"].does


def test_insisting_on_the_vision_judge_with_spending_off_says_why():
    from svgkit.config import with_spending
    from svgkit.judge import choose_judge

    held = choose_judge(with_spending(False, get_settings({"OPENAI_API_KEY": "sk", "SVGKIT_JUDGE": "vision"},
                                                         read_dotenv=False)))
    assert held.refused and "spending is not enabled" in held.error and "no judge key" not in held.error
