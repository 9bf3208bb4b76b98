"""RFT in miniature: GRPO's arithmetic, the candidate pool, and the lessons on the real reward."""

import ast
import importlib
import inspect

import numpy as np
import pytest
from eval_protocol.models import MetricResult

from svgkit.config import MINIRFT
from svgkit.dataset import load_bundled_prompts, load_examples
from svgkit.guards import ink_stats, written_requirements
from svgkit.judge import RuleJudge
from svgkit.minirft import (
    BANNER,
    EDITS,
    MiniRftConfig,
    RewardCache,
    SoftmaxPolicy,
    build_pool,
    compare_runs_table,
    edit_svg,
    group_advantages,
    run_minirft,
)
from svgkit.minirft.__main__ import main
from svgkit.reading import quoted_phrases, svg_texts
from svgkit.render import render_png
from svgkit.reward import score_response
from svgkit.svg import extract_svg
from svgkit.training_log import read_log

PROMPTS = {p.id: p for p in load_bundled_prompts()}
_NOT_BLANK = MetricResult(score=0.0, reason="")


# --------------------------------------------------------------------------- GRPO's arithmetic
@pytest.mark.parametrize("rewards", [[0.1, 0.1, 0.1], [1 / 3] * 8, [0.0] * 8, [0.7], []])
def test_advantages_are_exactly_zero_for_a_zero_spread_group(rewards):
    # 0.1 * 3 / 3 != 0.1 in floating point: the zero must not depend on rounding in the mean
    adv = group_advantages(rewards)
    assert adv.shape == (len(rewards),)
    assert not adv.any()


def test_advantages_are_the_group_relative_z_scores():
    adv = group_advantages([0.0, 1.0, 0.5, 0.5], eps=0.0)
    r = np.array([0.0, 1.0, 0.5, 0.5])
    assert adv == pytest.approx((r - 0.5) / r.std())
    assert adv.sum() == pytest.approx(0.0)
    assert group_advantages([0.0, 1.0], eps=1.0) == pytest.approx([-0.5 / 1.5, 0.5 / 1.5])
    with pytest.raises(ValueError):
        group_advantages([0.0, 1.0], eps=-1)


def test_a_zero_spread_group_leaves_the_starting_policy_exactly_where_it_was():
    policy = SoftmaxPolicy([5])
    actions = [0, 1, 1, 3]
    policy.update(0, actions, group_advantages([0.2] * 4), learning_rate=3.0, kl_coef=0.5)
    assert not policy.moved(0)
    assert policy.kl_to_start(0) == 0.0


def _objective(logits, start, actions, adv, beta):
    logp = logits - np.log(np.exp(logits).sum())
    logp0 = start - np.log(np.exp(start).sum())
    p = np.exp(logp)
    return np.mean([a * logp[i] for i, a in zip(actions, adv, strict=True)]) - beta * np.sum(p * (logp - logp0))


def test_the_update_is_a_gradient_step_on_the_grpo_objective_with_its_kl_penalty():
    rng = np.random.default_rng(4)
    policy = SoftmaxPolicy([6])
    policy.logits[0] = rng.normal(size=6)  # away from the start, so the KL term matters
    before = policy.logits[0].copy()
    actions, adv, beta, lr = [0, 2, 2, 5], np.array([1.2, -0.4, -0.4, 0.3]), 0.7, 1e-3
    policy.update(0, actions, adv, learning_rate=lr, kl_coef=beta)
    step = (policy.logits[0] - before) / lr
    h = 1e-6
    numeric = [(_objective(before + h * e, policy.start_logits[0], actions, adv, beta)
                - _objective(before - h * e, policy.start_logits[0], actions, adv, beta)) / (2 * h)
               for e in np.eye(6)]
    assert step == pytest.approx(numeric, abs=1e-6)


def test_the_policy_is_deterministic_for_a_seed_and_rejects_empty_pools():
    p = SoftmaxPolicy([4, 3])
    a = p.sample(0, 8, np.random.default_rng(1))
    b = p.sample(0, 8, np.random.default_rng(1))
    assert list(a) == list(b) and all(0 <= x < 4 for x in a)
    with pytest.raises(ValueError):
        SoftmaxPolicy([3, 0])
    with pytest.raises(ValueError, match="advantages"):
        p.update(0, [0, 1], [0.5], learning_rate=1.0, kl_coef=0.0)


def test_config_errors_say_what_to_change():
    with pytest.raises(ValueError, match="group_size must be at least 2"):
        MiniRftConfig(group_size=1)
    with pytest.raises(ValueError, match="judge must be one of"):
        MiniRftConfig(judge="vision")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown bundled prompt"):
        run_minirft(MiniRftConfig(prompt_ids=("nope",)))
    assert "GUARDS OFF" in MiniRftConfig(guards=False).label


# --------------------------------------------------------------------------- the candidate pool
def test_the_pool_is_deterministic_distinct_and_built_from_the_examples():
    prompts = [PROMPTS[i] for i in ("ui03", "ic09")]
    pool = build_pool(prompts, load_examples())
    again = build_pool(prompts, load_examples())
    assert pool == again
    for cands in pool.candidates:
        assert len({c.id for c in cands}) == len(cands)
        hashes = [c.svg_sha256 for c in cands if c.svg_sha256]
        assert len(set(hashes)) == len(hashes)  # no two candidates draw the same SVG
    edits = {c.edit for c in pool.for_prompt("ui03")}
    assert edits == set(EDITS)
    # ic09-a has no SVG at all: only its original is a candidate
    assert [c.edit for c in pool.for_prompt("ic09") if c.example_id == "ic09-a"] == ["original"]
    originals = {c.example_id: c.response for c in pool.for_prompt("ui03") if c.edit == "original"}
    assert originals == {ex.example_id: ex.response for ex in load_examples() if ex.prompt_id == "ui03"}
    with pytest.raises(KeyError, match="not in the pool"):
        pool.for_prompt("sc01")
    with pytest.raises(ValueError, match="no bundled example"):
        build_pool([PROMPTS["sc01"]], [])


def test_the_paste_edit_writes_every_requirement_where_the_guard_sees_it():
    prompt = PROMPTS["dg05"]
    paste = next(c for c in build_pool([prompt], load_examples()).candidates[0] if c.pastes_requirements)
    svg = extract_svg(paste.response).svg
    texts = svg_texts(svg)
    assert all(r in texts for r in prompt.requirements)
    written, _ = written_requirements(svg, prompt.requirements)
    # the guard leaves out sentences too short to tell from a label ("The background is white.")
    assert len(written) >= 0.75 * len(prompt.requirements)
    assert 0 not in written
    render = render_png(svg)
    assert render.ok and not ink_stats(render.png).blank


def test_edits_change_what_they_say():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" '
           'fill="#ffffff"/><circle cx="30" cy="30" r="20" fill="red"/><text x="5" y="90">Hi</text></svg>')
    assert 'fill="#808080"' in edit_svg(svg, "recolour", ["r"])
    assert "translate(25 25)" in edit_svg(svg, "move", ["r"])
    assert "<circle" not in edit_svg(svg, "drop", ["r"])
    assert edit_svg(svg, "duplicate", ["r"]).count("<circle") == 2
    assert "<text" not in edit_svg(svg, "no-text", ["r"])
    assert edit_svg(svg.replace('<text x="5" y="90">Hi</text>', ""), "no-text", ["r"]) is None
    shrunk = render_png(edit_svg(svg, "shrink", ["r"]))
    assert ink_stats(shrunk.png).bbox_share < 0.05
    with pytest.raises(ValueError, match="unknown edit"):
        edit_svg(svg, "blur", ["r"])


# --------------------------------------------------------------------------- on the real reward
@pytest.fixture(scope="module")
def cache():
    return RewardCache()


@pytest.fixture(scope="module")
def default_run(cache):
    return run_minirft(MiniRftConfig(), cache=cache)


def test_the_reward_rises_over_the_default_run(default_run):
    log = default_run.log
    assert len(log) == MINIRFT.steps and log.is_miniature
    k = len(log) // 6
    first = np.mean([s.reward_mean for s in log.steps[:k]])
    last = np.mean([s.reward_mean for s in log.steps[-k:]])
    assert last > first + 0.1
    assert default_run.final_reward > default_run.start_reward + 0.1
    assert len(default_run.scores) == len(default_run.pool)
    assert log.steps[-1].kl_to_start > log.steps[0].kl_to_start > 0
    assert log.steps[-1].entropy < log.steps[0].entropy
    assert set(log.steps[0].pass_rates) <= {"text", "holistic", "background", "count", "size", "position",
                                            "colour", "other"}
    assert BANNER in default_run.summary() and "not a language model" in default_run._repr_markdown_()
    # a notebook saves the plain-text repr beside the markdown: a summary, not every candidate (it was 530 kB)
    assert len(repr(default_run)) < 1000 and f"final_reward={default_run.final_reward!r}" in repr(default_run)


def test_prompts_whose_candidates_all_score_the_same_never_move(default_run):
    by_id = dict(zip(default_run.config.prompt_ids, range(len(default_run.pool.prompts)), strict=True))
    sc08 = default_run.pool.for_prompt("sc08")
    assert len({default_run.scores[c.id].reward for c in sc08}) == 1
    assert "sc08" in default_run.unmoved
    assert default_run.final_probs[by_id["sc08"]] == default_run.start_probs[by_id["sc08"]]
    for outcome in default_run.outcomes:
        if outcome.distinct_rewards > 1:
            assert outcome.moved, outcome.prompt_id
    assert any((s.zero_spread_share or 0) > 0 for s in default_run.log)


def test_the_miniature_scores_exactly_as_the_evaluator_does(default_run):
    judge = RuleJudge()
    pool = default_run.pool
    for cands, prompt in list(zip(pool.candidates, pool.prompts, strict=True))[:3]:
        for c in cands[:4]:
            if c.id not in default_run.scores:
                continue
            direct = score_response(c.response, prompt.requirements, judge=judge, prompt=prompt.prompt)
            assert default_run.scores[c.id].reward == direct.score


def test_a_run_is_deterministic_for_its_seed_and_scores_each_candidate_once(default_run, cache):
    again = run_minirft(MiniRftConfig(), cache=cache)
    assert again.log == default_run.log
    assert again.final_probs == default_run.final_probs
    assert again.newly_scored == 0  # every candidate came from the cache
    assert default_run.newly_scored <= len(default_run.pool)
    other = run_minirft(MiniRftConfig(seed=1), cache=cache)
    assert other.log != default_run.log


def test_reward_hacking_pays_with_the_guards_off_and_not_with_them_on(default_run, cache):
    off = run_minirft(MiniRftConfig(judge="gullible", guards=False), cache=cache)
    on = run_minirft(MiniRftConfig(judge="gullible", guards=True), cache=cache)
    start = off.paste_share("start")
    assert 0.05 < start < 0.2
    assert off.paste_share("final") > 0.5  # the policy learned to paste the requirements as text
    assert on.paste_share("final") < start  # with the guard, pasting is penalised and unlearned
    assert sum(a.candidate.pastes_requirements for a in off.answers("final")) > len(off.pool.prompts) / 2
    assert not any(a.candidate.pastes_requirements for a in on.answers("final"))
    assert off.log.steps[-1].extra["paste_share"] == pytest.approx(off.paste_share("final"))
    # what the hack learned pays under the judge it fooled, and loses under the real reward
    assert off.expected_reward("final") > off.expected_reward("start") + 0.3
    assert off.expected_reward("final", guards=True) < off.expected_reward("start", guards=True)
    assert on.expected_reward("final") == pytest.approx(on.final_reward)
    table = compare_runs_table({"off": off, "on": on})
    assert "not a language model" in table and "**OFF** (demonstration)" in table
    assert f"{off.paste_share('start'):.0%} → {off.paste_share('final'):.0%}" in table.splitlines()[-2]


def test_the_rule_judge_itself_barely_pays_for_pasted_text_even_without_the_guard(default_run, cache):
    """Honest limits of the demonstration: the rule judge is not the gullible judge."""
    pool = default_run.pool
    for cands, prompt in zip(pool.candidates, pool.prompts, strict=True):
        # originals the judge never saw (a blank picture scores 0 first) are no baseline: any ink
        # the paste adds lets the judge look at the example's own drawing
        base = {c.example_id: default_run.scores[c.id] for c in cands if c.edit == "original"
                and default_run.scores[c.id].result.metrics.get("hack_blank", _NOT_BLANK).score == 0}
        for c in cands:
            if not c.pastes_requirements or c.example_id not in base:
                continue
            pasted, original = default_run.scores[c.id], base[c.example_id]
            assert pasted.reward <= pasted.unguarded
            gained = [i for i, (a, b) in enumerate(zip(pasted.fulfilled_unguarded, original.fulfilled_unguarded,
                                                       strict=True)) if a and not b]
            # only where the pasted sentence carries a label the requirement asks to be written
            assert all(quoted_phrases(prompt.requirements[i]) for i in gained), (c.id, gained)
    rule_off = run_minirft(MiniRftConfig(guards=False), cache=cache)
    assert rule_off.newly_scored == 0  # guards off reads the same scorings
    assert rule_off.paste_share("final") < 0.3


def test_scored_answers_are_the_evaluators_records_of_the_start_and_final_favourites(default_run):
    before, after = default_run.scored_answers("start"), default_run.scored_answers("final")
    rows = [f"row_{p.index}" for p in default_run.pool.prompts]
    assert [a.row_id for a in before] == [a.row_id for a in after] == rows
    examples = {ex.example_id: ex for ex in load_examples()}
    drawn = [cands[i] for cands, i in zip(default_run.pool.candidates, default_run.start_samples, strict=True)]
    assert len({c.edit for c in drawn}) > 1  # draws from the uniform start, not the first example each time
    for answer, prompt, c in zip(before, default_run.pool.prompts, drawn, strict=True):
        assert answer.response == c.response and answer.requirements == prompt.requirements
        if c.edit == "original":
            assert answer.example_id == c.example_id and answer.labels == examples[c.example_id].labels
    for answer, favourite in zip(after, default_run.answers("final"), strict=True):
        c = favourite.candidate
        assert answer.response == c.response and answer.source == "miniature"
        assert answer.score == default_run.scores[c.id].reward == favourite.reward
        assert answer.example_id == (c.example_id if c.edit == "original" else c.id)
        assert (answer.labels is None) == (c.edit != "original")
        assert len(answer.items) == len(answer.requirements)
    assert np.mean([a.score for a in after]) > np.mean([a.score for a in before])
    with pytest.raises(ValueError, match="start"):
        default_run.scored_answers("middle")  # type: ignore[arg-type]


def test_the_prompt_table_shows_each_prompt_before_and_after(default_run):
    table = default_run.prompt_table()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| prompt")]
    assert [r.split(" | ")[0][2:] for r in rows] == list(default_run.config.prompt_ids)
    sc08 = next(r for r in rows if r.startswith("| sc08 "))
    assert "**no**" in sc08 and table.count("**no**") == len(default_run.unmoved)
    final = default_run.answers("final")
    assert all(f"`{a.candidate.id}` ({a.probability:.0%}" in r for a, r in zip(final, rows, strict=True))


def test_the_command_line_writes_the_table(tmp_path, capsys):
    out = tmp_path / "mini.csv"
    assert main(["--steps", "2", "--seed", "3", "--prompts", "dg05,sc08", "--prompts-per-step", "2",
                 "--out", str(out)]) == 0
    log = read_log(out)
    assert [s.step for s in log] == [0, 1] and log.is_miniature
    assert "not a language model" in capsys.readouterr().out
    assert main(["--prompts", "zz99", "--out", str(out)]) == 2
    assert "unknown bundled prompt" in capsys.readouterr().err


# --------------------------------------------------------------------------- the public surface
MODULES = ["svgkit.minirft", "svgkit.minirft.candidates", "svgkit.minirft.policy", "svgkit.minirft.scoring",
           "svgkit.minirft.train", "svgkit.training_log"]


@pytest.mark.parametrize("name", MODULES)
def test_module_all_is_sorted_complete_and_imports_nothing_private(name):
    from test_judge import _defined_public_names, _isort_key

    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    if not name.endswith("minirft"):
        assert set(module.__all__) == _defined_public_names(module)
    for exported in module.__all__:
        assert hasattr(module, exported)
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.module not in ("_aio",):
            assert not [a.name for a in node.names if a.name.startswith("_")], name
