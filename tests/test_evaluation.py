"""svgkit.evaluation and svgkit.evaluator: plan, row scoring, the evaluator under pytest (see also test_scoring.py)."""

import asyncio
import json

import pytest
from eval_protocol.models import EvaluationRow, InputMetadata, Message, Status

from svgkit import dataset, evaluation
from svgkit.config import FILES, get_settings, output_path, with_spending
from svgkit.judge import RuleJudge
from svgkit.reward import score_response
from svgkit.standin import Completion

KEY = "fw-test-key-should-never-be-written-0123"
SVG_OK = ('```svg\n<svg width="200" height="100"><rect width="200" height="100" fill="white"/>'
          '<circle cx="100" cy="50" r="40" fill="red"/></svg>\n```')


def _row(answer: str | None, *, status: Status | None = None) -> EvaluationRow:
    messages = [Message(role="user", content="Draw a red circle.")]
    if answer is not None:
        messages.append(Message(role="assistant", content=answer))
    row = EvaluationRow(messages=messages, input_metadata=InputMetadata(
        row_id="r1", dataset_info={"requirements": ["The circle is red.", "The background is white."],
                                   "original_prompt": "Draw a red circle."}))
    if status is not None:
        row.rollout_status = status
    return row


def test_failed_rollouts_are_invalid_zeros_with_the_status_as_reason():
    errored = asyncio.run(evaluation.ascore_row(_row(None, status=Status.rollout_error("upstream 503")),
                                                judge=RuleJudge()))
    assert errored.score == 0 and errored.is_score_valid is False
    assert "rollout failed" in errored.reason and "upstream 503" in errored.reason
    missing = asyncio.run(evaluation.ascore_row(_row(None), judge=RuleJudge()))
    assert missing.score == 0 and missing.is_score_valid is False and "no assistant message" in missing.reason


def test_a_finished_row_is_scored_by_the_reward():
    result = asyncio.run(evaluation.ascore_row(_row(SVG_OK, status=Status.rollout_finished()), judge=RuleJudge()))
    direct = score_response(SVG_OK, ["The circle is red.", "The background is white."], judge=RuleJudge())
    assert result.is_score_valid is not False and result.score == direct.score
    assert result.metrics["requirement_02"].score == 1.0  # white background, decided from the pixels
    no_svg = asyncio.run(evaluation.ascore_row(_row("I cannot draw."), judge=RuleJudge()))
    assert no_svg.score == 0 and no_svg.is_score_valid is not False  # format failure is a valid zero


def test_plan_offline_writes_example_rows_and_uses_no_op():
    plan = evaluation.evaluator_plan()
    assert plan.mode == "offline" and plan.rollout == "no-op"
    assert plan.dataset == output_path(FILES.example_rows) and plan.dataset.is_file()
    assert len(dataset.read_rows(plan.dataset)) == len(dataset.load_examples())
    assert type(plan.rollout_processor()).__name__ == "NoOpRolloutProcessor"


def test_plan_live_needs_the_training_rows_and_never_carries_a_key(monkeypatch):
    monkeypatch.setenv("SVGKIT_MODE", "")
    settings = get_settings({"FIREWORKS_API_KEY": KEY}, read_dotenv=False)
    with pytest.raises(FileNotFoundError, match="notebook 01"):
        evaluation.evaluator_plan(settings)
    dataset.write_rows(dataset.to_eval_rows(dataset.load_bundled_prompts()[:2]), output_path(FILES.train))
    plan = evaluation.evaluator_plan(settings)
    assert plan.rollout == "single-turn" and plan.dataset == output_path(FILES.train)
    assert plan.completion_params["model"] == "fireworks_ai/accounts/fireworks/models/gpt-oss-120b"
    assert KEY not in json.dumps(plan.completion_params) and "api_key" not in plan.completion_params
    assert "api_base" not in plan.completion_params


def test_evaluator_offline_under_pytest_scores_every_example(tmp_path):
    run = evaluation.run_evaluator(output_dir=tmp_path / "ep")
    assert run.returncode == 0, run.summary
    examples = {ex.example_id: ex for ex in dataset.load_examples()}
    scores = {s.row_id: s for s in run.scores}
    assert set(scores) == set(examples)
    assert all(s.valid for s in scores.values()), [s.reason for s in scores.values() if not s.valid]
    for ex_id, ex in examples.items():
        if {"truncated", "blank"} & set(ex.faults):
            assert scores[ex_id].score == 0, ex_id
    good = [scores[i].score for i, ex in examples.items() if ex.quality == "good"]
    poor = [scores[i].score for i, ex in examples.items() if ex.quality == "poor"]
    assert sum(good) / len(good) > sum(poor) / len(poor) + 0.1
    # the results are Eval Protocol rows with itemised metrics, readable by notebook 05
    assert any(k.startswith("requirement_") for k in scores["sc01-a"].metrics)


def test_evaluator_live_rollouts_go_to_the_configured_endpoint_without_leaking_the_key(chat_standin, tmp_path):
    rows = dataset.to_eval_rows(dataset.load_bundled_prompts()[:2])
    dataset.write_rows(rows, output_path(FILES.train))
    env = {"SVGKIT_MODE": "", "FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": "", "SVGKIT_GENERATION_BASE_URL": "",
           "SVGKIT_JUDGE": "rule"}  # no judge key: the rule judge scores live rollouts only when chosen
    seen = []  # what the server received, secrets included (its records never hold them)
    chat_standin.responder = lambda request: seen.append(json.dumps(request.headers)) or Completion(SVG_OK)
    env["SVGKIT_GENERATION_BASE_URL"] = chat_standin.base_url
    spend = with_spending(True, get_settings(env, read_dotenv=False))
    run = evaluation.run_evaluator(output_dir=tmp_path / "ep", env=env, settings=spend)
    sent = chat_standin.chat_requests
    assert run.returncode == 0, run.summary
    assert len(sent) == 2
    assert {r.json["model"] for r in sent} == {"accounts/fireworks/models/gpt-oss-120b"}
    assert {r.json["messages"][0]["content"] for r in sent} == {r["messages"][0]["content"] for r in rows}
    assert len(seen) == 2 and not any(KEY in headers for headers in seen), "the Fireworks key only goes to Fireworks"
    assert {s.row_id for s in run.scores} == {"row_0", "row_1"} and all(s.valid for s in run.scores)
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "ep").rglob("*") if p.is_file())
    assert KEY not in written and KEY not in run.summary
    assert run.judges == ("rule",), "every row says which judge scored it"


def test_evaluator_refuses_live_rollouts_when_no_judge_was_chosen(chat_standin, tmp_path):
    dataset.write_rows(dataset.to_eval_rows(dataset.load_bundled_prompts()[:2]), output_path(FILES.train))
    env = {"SVGKIT_MODE": "", "FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": "",
           "SVGKIT_GENERATION_BASE_URL": chat_standin.base_url}
    chat_standin.responder = lambda request: Completion(SVG_OK)
    spend = with_spending(True, get_settings(env, read_dotenv=False))
    plan = evaluation.evaluator_plan(spend)
    assert plan.mode == "live" and plan.judge is not None and plan.judge.refused
    run = evaluation.run_evaluator(output_dir=tmp_path / "ep", env=env, settings=spend)
    assert run.returncode != 0 and run.scores == ()
    assert chat_standin.chat_requests == [], "it stops before a single rollout is paid for"
    assert "JudgeNotChosenError" in run.output and "OPENAI_API_KEY" in run.output and "secret" in run.output
    assert KEY not in run.output
    # the bundled examples offline still use the rule judge, unasked
    assert evaluation.evaluator_plan(get_settings({}, read_dotenv=False)).judge.judge == "rule"


def test_read_results_takes_the_latest_row_scores(tmp_path):
    row = {"input_metadata": {"row_id": "a"}, "evaluation_result": {"score": 0.5, "is_score_valid": True,
                                                                     "reason": "ok", "metrics": {}}}
    (tmp_path / "x.jsonl").write_text(json.dumps(row) + "\nnot json\n" + json.dumps({"other": 1}) + "\n")
    (scores,) = evaluation.read_results(tmp_path)
    assert scores.row_id == "a" and scores.score == 0.5 and scores.valid


def test_run_evaluator_reads_only_its_own_results(tmp_path):
    stale = {"input_metadata": {"row_id": "sc01-a"}, "evaluation_result": {"score": 0.99, "metrics": {}}}
    (tmp_path / "ep").mkdir()
    (tmp_path / "ep" / "zz-old-run.jsonl").write_text(json.dumps(stale) + "\n")
    run = evaluation.run_evaluator(output_dir=tmp_path / "ep")
    assert run.returncode == 0
    fresh = {s.row_id: s.score for s in run.scores}
    assert fresh["sc01-a"] != 0.99 and len(fresh) == len(dataset.load_examples())


def test_run_evaluator_without_the_spending_opt_in_stays_offline(chat_standin, tmp_path):
    dataset.write_rows(dataset.to_eval_rows(dataset.load_bundled_prompts()[:1]), output_path(FILES.train))
    chat_standin.default = Completion(SVG_OK)
    env = {"SVGKIT_MODE": "", "FIREWORKS_API_KEY": KEY, "SVGKIT_GENERATION_BASE_URL": chat_standin.base_url}
    run = evaluation.run_evaluator(output_dir=tmp_path / "ep", env=env)
    assert chat_standin.requests == []
    assert run.returncode == 0 and len(run.scores) == len(dataset.load_examples())  # the offline examples


def test_run_evaluator_timeout_keeps_what_was_written(tmp_path):
    run = evaluation.run_evaluator(output_dir=tmp_path / "ep", timeout_s=0.5)
    assert run.returncode == evaluation.TIMEOUT_RETURNCODE
    assert "timed out after 0.5 s" in run.summary


def test_a_scoring_error_in_the_evaluator_is_an_invalid_score_not_a_lost_row():
    class Broken(RuleJudge):
        async def ajudge(self, image, requirements, **kw):
            raise RuntimeError("judge exploded")

    result = asyncio.run(evaluation.ascore_row(_row(SVG_OK, status=Status.rollout_finished()), judge=Broken()))
    assert result.score == 0 and result.is_score_valid is False and "judge exploded" in result.reason


def test_ascore_row_without_a_judge_refuses_live_rollouts_as_the_plan_does(monkeypatch):
    """A hand-made evaluator on ascore_row gets the evaluator's refusal, not a silent rule judge."""
    from svgkit.judge import JudgeNotChosenError

    live = with_spending(True, get_settings({"FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": ""}, read_dotenv=False))
    with pytest.raises(JudgeNotChosenError, match="OPENAI_API_KEY"):
        asyncio.run(evaluation.ascore_row(_row(SVG_OK, status=Status.rollout_finished()), settings=live))
    chosen = with_spending(True, get_settings({"FIREWORKS_API_KEY": KEY, "OPENAI_API_KEY": "", "SVGKIT_JUDGE": "rule"},
                                              read_dotenv=False))
    result = asyncio.run(evaluation.ascore_row(_row(SVG_OK, status=Status.rollout_finished()), settings=chosen))
    assert result.is_score_valid and result.metrics["judge"].reason.startswith("rule")
    offline = asyncio.run(evaluation.ascore_row(_row(SVG_OK), settings=get_settings({}, read_dotenv=False)))
    assert offline.is_score_valid, "offline rows still use the rule judge, unasked"
