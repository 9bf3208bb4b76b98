"""The judge interface, verdict records, pixel guards, the rule judge and its coverage."""

import _thread
import asyncio
import json
import threading
import time
import warnings
from pathlib import Path

import pytest

from svgkit import _aio
from svgkit._aio import CANCEL_WAIT_S, run_sync
from svgkit.config import get_settings
from svgkit.judge import (
    JudgeCache,
    RequirementVerdict,
    RuleJudge,
    Verdict,
    VisionJudge,
    default_judge,
    ink_stats,
    judge,
    requirement_kind,
    rule_coverage,
    svg_texts,
    written_requirements,
)
from svgkit.render import render_png

DATA = Path(__file__).resolve().parents[1] / "svgkit" / "data"

SCENE = """<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300">
  <rect width="400" height="300" fill="#87ceeb"/>
  <circle cx="350" cy="50" r="30" fill="#ffd700"/>
  <rect x="0" y="220" width="400" height="80" fill="#2e8b57"/>
  <rect x="150" y="140" width="100" height="80" fill="#b22222"/>
  <text x="200" y="30" text-anchor="middle" font-family="sans-serif" font-size="20" fill="#000">Farm Day</text>
  <text x="20" y="280" font-family="sans-serif" font-size="14" fill="#fff">Open 9-5</text>
</svg>"""


@pytest.fixture(scope="module")
def scene():
    res = render_png(SCENE)
    assert res.ok, res.error
    return res


def rule(scene, reqs):
    return RuleJudge().judge(scene, reqs)


# ------------------------------------------------------------------ records
def test_verdict_record_round_trips_and_scores():
    items = (RequirementVerdict(0, "a", True, "seen"), RequirementVerdict(1, "b", False, "?", decided=False))
    v = Verdict(judge="rule", items=items, fulfilled=1, total=2, undecided=(1,))
    assert v.score == 0.5 and v.itemised
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    forced = v.with_unfulfilled([0], "written as text")
    assert forced.fulfilled == 0 and forced.items[0].reason == "written as text"
    bad = Verdict(judge="x", items=(), fulfilled=2, total=2, valid=False, error="boom")
    assert bad.score == 0.0
    assert Verdict(judge="x", items=(), fulfilled=9, total=2).score == 1.0  # clamped


def test_judge_needs_requirements(scene):
    with pytest.raises(ValueError, match="at least one requirement"):
        RuleJudge().judge(scene, [])


def test_judge_rejects_unknown_image_types():
    with pytest.raises(TypeError, match="PNG bytes"):
        RuleJudge().judge(12345, ["x"])
    with pytest.raises(FileNotFoundError, match="not a file"):
        RuleJudge().judge("/nonexistent/picture.png", ["x"])


def test_default_judge_follows_the_mode(monkeypatch):
    assert isinstance(default_judge(get_settings({"SVGKIT_MODE": "offline", "OPENAI_API_KEY": "k"},
                                                 read_dotenv=False)), RuleJudge)
    assert isinstance(default_judge(get_settings({}, read_dotenv=False)), RuleJudge)
    live = default_judge(get_settings({"OPENAI_API_KEY": "sk-x"}, read_dotenv=False), cache=None)
    assert isinstance(live, VisionJudge) and live.cache is None


def test_judge_function_uses_offline_rule_judge_and_render_result(scene):
    v = judge(scene, ["The title 'Farm Day' is written at the top."])
    assert v.judge == "rule" and v.fulfilled == 1 and v.items[0].decided


# ------------------------------------------------------------------ pixels
def test_ink_stats_blank_tiny_and_normal(scene):
    blank = render_png('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">'
                       '<rect width="300" height="200" fill="#fafafa"/></svg>').png
    tiny = render_png('<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
                      '<circle cx="400" cy="300" r="30" fill="red"/></svg>').png
    b, t, n = ink_stats(blank), ink_stats(tiny), ink_stats(scene.png)
    assert b.blank and b.ink_share < 0.002 and b.bbox is None
    assert t.tiny and not t.blank and t.bbox_share < 0.02
    assert not n.blank and not n.tiny and n.bbox_share > 0.3
    assert n.background != (255, 255, 255)  # the sky covers the canvas


# ------------------------------------------------------------------ rule judge
def test_rule_judge_text_labels(scene):
    v = rule(scene, ["The title 'Farm Day' appears at the top.", "A sign reads 'Closed'.",
                     "The hours 'Open 9-5' are shown in the bottom-left corner.",
                     "The words 'Farm Day' are in the bottom-right corner."])
    assert [i.fulfilled for i in v.items] == [True, False, True, False]
    assert all(i.decided for i in v.items)
    assert "Closed" in v.items[1].reason


def test_rule_judge_background_colour(scene):
    v = rule(scene, ["The background sky is light blue.", "The background is black.",
                     "A light blue sky background with a green strip of grass at the bottom."])
    assert [i.fulfilled for i in v.items] == [True, False, True]
    assert v.items[0].decided and v.items[1].decided


def test_rule_judge_colour_and_position(scene):
    v = rule(scene, ["A yellow sun is in the top-right corner.", "A yellow sun is in the bottom-left corner.",
                     "A purple dragon flies overhead."])
    assert [i.fulfilled for i in v.items] == [True, False, False]
    assert v.items[2].decided and "purple" in v.items[2].reason


def test_rule_judge_undecided_is_strict_and_reported(scene):
    v = rule(scene, ["The barn looks cosy and inviting.", "Exactly three chickens peck at the ground.",
                     "The barn is larger than the sun."])
    assert v.fulfilled == 0 and v.undecided == (0, 1, 2)
    assert not any(i.decided for i in v.items)
    assert v.valid and v.score == 0


def test_rule_judge_is_deterministic(scene):
    reqs = ["The background sky is light blue.", "The title 'Farm Day' appears at the top.",
            "A red barn stands in the centre."]
    assert RuleJudge().judge(scene, reqs).items == RuleJudge().judge(scene, reqs).items


def test_rule_judge_ignores_labels_that_spell_out_requirements():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200"><text x="10" y="40" '
           'font-size="14">A green button reads Sign in and sits below the form</text></svg>')
    res = render_png(svg)
    v = RuleJudge().judge(res, ["A green button reads 'Sign in' and sits below the form."])
    assert v.fulfilled == 0


def test_rule_judge_without_svg_reads_pixels_only(scene):
    v = RuleJudge().judge(scene.png, ["The background sky is light blue.", "A sign reads 'Farm Day'."])
    assert v.items[0].fulfilled and not v.items[1].decided


def test_rule_judge_cache_key_includes_svg(scene, tmp_path):
    cache = JudgeCache(tmp_path / "rules.sqlite")
    j = RuleJudge(cache=cache)
    first = j.judge(scene, ["A sign reads 'Farm Day'."])
    second = j.judge(scene, ["A sign reads 'Farm Day'."])
    assert not first.cached and second.cached and second.items == first.items
    other = j.judge(scene.png, ["A sign reads 'Farm Day'."], svg=SCENE.replace("Farm Day", "Barn"))
    assert not other.cached


# ------------------------------------------------------------------ text helpers
def test_svg_texts_and_written_requirements():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><text>A red barn stands</text>'
           '<text>in the <tspan>centre of the image</tspan></text><text>OK</text></svg>')
    assert svg_texts(svg) == ["A red barn stands", "in the centre of the image", "OK"]
    written, prompt_written = written_requirements(
        svg, ["A red barn stands in the centre of the image.", "The button reads 'OK'.",
              "A blue pond lies on the left."], prompt="Write `svg` code for an image of a red barn.")
    assert written == (0,)
    assert not prompt_written


def test_requirement_kinds():
    assert requirement_kind("The button reads 'Sign in'.") == "text"
    assert requirement_kind("The background is dark navy blue.") == "background"
    assert requirement_kind("Exactly three birds fly in the sky.") == "count"
    assert requirement_kind("The sun is larger than the cloud.") == "size"
    assert requirement_kind("A yellow sun is in the top-right corner.") == "position"
    assert requirement_kind("The barn is red.") == "colour"
    assert requirement_kind("The scene feels calm.") == "holistic"
    assert requirement_kind("A dog sleeps.") == "other"


# ------------------------------------------------------------------ coverage
def test_rule_coverage_counts():
    cov = rule_coverage([["The button reads 'Go'.", "A dog sleeps.", "The barn is red."],
                         ["The background is white."]])
    assert (cov.total, cov.decidable, cov.refutable) == (4, 2, 1)
    assert cov.decidable_share == 0.5 and cov.any_share == 0.75
    assert cov.by_kind["text"] == (1, 1, 0)


def test_rule_coverage_on_bundled_and_svgbench(shared_dir):
    bundled = [json.loads(line)["requirements"] for line in (DATA / "prompts.jsonl").read_text().splitlines()
               if line.strip()]
    questions = json.loads((shared_dir / "data" / "svgbench" / "questions.json").read_text())
    bench = [q["requirements"] for q in questions]
    b, s = rule_coverage(bundled), rule_coverage(bench)
    assert b.total > 300 and s.total > 900
    # the bundled set was written with checkable requirements; SVGBench is mostly holistic
    assert 0.3 < b.decidable_share < 0.9
    assert 0.0 < s.decidable_share < b.decidable_share
    assert s.any_share > s.decidable_share


def test_rule_judge_counts_primitive_shapes():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100">'
           '<circle cx="50" cy="50" r="20" fill="red"/><circle cx="150" cy="50" r="20" fill="red"/>'
           '<circle cx="250" cy="50" r="20" fill="#0000ff"/><rect x="5" y="5" width="20" height="20" fill="green"/>'
           '</svg>')
    res = render_png(svg)
    v = RuleJudge().judge(res, ["Exactly two red circles are drawn.", "Exactly three circles are drawn.",
                                "Exactly four blue circles are drawn.", "There are exactly two squares."])
    assert [i.fulfilled for i in v.items] == [True, True, False, False]
    assert all(i.decided for i in v.items)


# ------------------------------------------------------------------ rule judge: colour + shape, text colour, no text
SHAPES = ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300">'
          '<rect width="400" height="300" fill="#ffffff"/>'
          '<circle cx="60" cy="60" r="30" fill="#d7263d"/>'
          '<rect x="150" y="40" width="120" height="60" fill="#add8e6" stroke="#222" stroke-width="3"/>'
          '<line x1="210" y1="100" x2="210" y2="200" stroke="#888888" stroke-width="4"/>'
          '<g fill="#1e88e5"><rect x="150" y="200" width="120" height="60"/></g>'
          '<text x="20" y="280" font-family="sans-serif" font-size="20" fill="#ffffff" stroke="#000">Go</text>'
          '</svg>')


@pytest.fixture(scope="module")
def shapes():
    res = render_png(SHAPES)
    assert res.ok, res.error
    return res


def test_rule_judge_colour_with_shape(shapes):
    v = rule(shapes, ["A red circular badge sits on the envelope.", "All process boxes are light blue.",
                      "Grey connector lines join the boxes.", "The rocket has one round blue porthole window.",
                      "The full moon is a pale yellow disc.", "A blue box is drawn at the bottom."])
    assert [i.fulfilled for i in v.items] == [True, True, True, False, False, True]
    assert [i.decided for i in v.items] == [True, True, True, False, True, True]  # blue, but no blue circle
    assert "red round" in v.items[0].reason


def test_rule_judge_text_colour(shapes, scene):
    v = rule(shapes, ["The labels are white.", "The button reads 'Go' in white text.",
                      "The button reads 'Go' in black letters.", "The word 'Go' is written in cream or white letters."])
    assert [i.fulfilled for i in v.items] == [True, True, False, True]
    assert all(i.decided for i in v.items)
    v = rule(scene, ["The labels are red."])  # "Farm Day" black, "Open 9-5" white
    assert not v.items[0].fulfilled and v.items[0].decided


def test_rule_judge_no_text(shapes):
    no_text = render_png(SHAPES.replace('>Go</text>', '></text>'))
    reqs = ["No text appears anywhere in the icon.", "No text apart from the title."]
    v = RuleJudge().judge(no_text, reqs)
    assert [(i.fulfilled, i.decided) for i in v.items] == [(True, True), (False, False)]
    v = rule(shapes, reqs)
    assert [(i.fulfilled, i.decided) for i in v.items] == [(False, True), (False, False)]


def test_rule_judge_does_not_pass_a_tiny_drawing():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><g transform="scale(0.15)">'
           '<circle cx="200" cy="200" r="150" fill="red"/><text x="400" y="300" font-size="80">Hello</text>'
           '</g></svg>')
    v = RuleJudge().judge(render_png(svg), ["A red circle is drawn.", "A title reads 'Hello'.",
                                            "A purple square is drawn."])
    assert [(i.fulfilled, i.decided) for i in v.items] == [(False, False), (False, False), (False, True)]
    assert "tiny" in v.items[0].reason


def test_rule_coverage_of_the_new_rules():
    cov = rule_coverage([["A red circular badge sits on the envelope.", "The labels are white.",
                          "No text appears anywhere.", "A red barn.", "No text apart from the title."]])
    assert (cov.total, cov.decidable, cov.refutable) == (5, 3, 1)


# ------------------------------------------------------------------ the sync helper (svgkit._aio)
async def _where(value):
    await asyncio.sleep(0)
    return value, threading.get_ident()


async def _boom():
    raise LookupError("from the coroutine")


def _in_a_running_loop(make):
    """Call ``make()`` synchronously inside a running loop without asyncio's SIGINT handler (Jupyter)."""
    async def cell():
        return make()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(cell())
    finally:
        loop.close()


def test_run_sync_without_a_loop_runs_here():
    assert run_sync(_where(7)) == (7, threading.get_ident())
    with pytest.raises(LookupError, match="from the coroutine"):
        run_sync(_boom())


def test_run_sync_inside_a_running_loop_uses_a_worker_thread():
    value, ident = _in_a_running_loop(lambda: run_sync(_where(8)))
    assert value == 8 and ident != threading.get_ident()
    with pytest.raises(LookupError, match="from the coroutine"):
        _in_a_running_loop(lambda: run_sync(_boom()))


def test_run_sync_interrupted_caller_cancels_the_coroutine():
    events = []

    async def work():
        _thread.interrupt_main()  # runs in the worker thread while the caller waits
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        events.append("finished")

    def call():
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_sync(work())
        return time.monotonic() - start

    assert _in_a_running_loop(call) < CANCEL_WAIT_S
    assert events == ["cancelled"]


def test_run_sync_interrupted_before_the_worker_starts_never_runs_the_coroutine(monkeypatch):
    class NoStart(threading.Thread):
        def start(self):
            raise KeyboardInterrupt

    monkeypatch.setattr(_aio.threading, "Thread", NoStart)
    ran = []

    async def work():
        ran.append(True)

    coro = work()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be a RuntimeWarning
        with pytest.raises(KeyboardInterrupt):
            _in_a_running_loop(lambda: run_sync(coro))
    assert ran == [] and coro.cr_frame is None  # closed, never started
