"""The evaluator's remote mode: its plan, the stand-in gateway through eval-protocol's own clients, the rehearsal."""

import logging

import pytest
import requests
from eval_protocol.adapters.fireworks_tracing import FireworksTracingAdapter
from eval_protocol.log_utils.fireworks_tracing_http_handler import FireworksTracingHttpHandler
from eval_protocol.models import Status

from svgkit import dataset, evaluation
from svgkit.config import FILES, ROLLOUT_SERVER, get_settings, output_path
from svgkit.remote_rehearsal import compare_scores, local_remote_stack, rehearse_remote_evaluation
from svgkit.standin import GatewayStandin

KEY = "fw-test-key-should-never-be-written-0456"


# --------------------------------------------------------------------------- the plan
def test_the_server_url_makes_the_plan_remote_and_offline_it_rehearses_on_the_example_prompts():
    settings = get_settings({"SVGKIT_MODE": "offline", "SVGKIT_ROLLOUT_SERVER_URL": "http://127.0.0.1:9/",
                             "SVGKIT_ROLLOUT_MODEL_BASE_URL": "http://localhost:8"}, read_dotenv=False)
    plan = evaluation.evaluator_plan(settings)
    assert (plan.mode, plan.rollout) == ("offline", "remote")
    assert plan.remote.server_url == "http://127.0.0.1:9" and plan.remote.model_base_url == "http://localhost:8"
    assert plan.max_concurrent_rollouts == ROLLOUT_SERVER.evaluator_concurrency
    rows = dataset.read_rows(plan.dataset)
    examples = dataset.load_examples()
    assert [r["input_metadata"]["row_id"] for r in rows] == [e.example_id for e in examples]
    assert all([m["role"] for m in r["messages"]] == ["user"] for r in rows)  # the server adds the answer
    processor = plan.rollout_processor()
    assert type(processor).__name__ == "RemoteRolloutProcessor"
    assert plan.completion_params["model"] == evaluation.OFFLINE_MODEL  # no real model is named offline


def test_offline_remote_mode_refuses_a_model_that_is_not_local():
    settings = get_settings({"SVGKIT_MODE": "offline", "SVGKIT_ROLLOUT_SERVER_URL": "https://rollouts.example"},
                            read_dotenv=False)
    with pytest.raises(ValueError, match="must not reach a paid model"):
        evaluation.evaluator_plan(settings)
    bad = get_settings({"SVGKIT_ROLLOUT_SERVER_URL": "rollouts.example"}, read_dotenv=False)
    with pytest.raises(ValueError, match="http"):
        evaluation.evaluator_plan(bad)


def test_live_remote_mode_uses_the_training_rows_and_the_gateway_and_carries_no_key(monkeypatch):
    monkeypatch.setenv("SVGKIT_MODE", "")
    settings = get_settings({"FIREWORKS_API_KEY": KEY, "SVGKIT_ROLLOUT_SERVER_URL": "https://rollouts.example"},
                            read_dotenv=False)
    with pytest.raises(FileNotFoundError, match="notebook 01"):
        evaluation.evaluator_plan(settings)
    dataset.write_rows(dataset.to_eval_rows(dataset.load_bundled_prompts()[:2]), output_path(FILES.train))
    plan = evaluation.evaluator_plan(settings)
    assert (plan.mode, plan.rollout, plan.dataset) == ("live", "remote", output_path(FILES.train))
    assert plan.remote.model_base_url == "https://tracing.fireworks.ai"
    assert plan.completion_params["model"] == "fireworks_ai/accounts/fireworks/models/gpt-oss-120b"
    assert KEY not in repr(plan)


# --------------------------------------------------------------------------- the gateway, through eval-protocol
def test_the_gateway_speaks_to_the_tracing_handler_and_adapter():
    with GatewayStandin() as gateway:
        log = logging.getLogger("test.gateway.handler")
        handler = FireworksTracingHttpHandler(gateway_base_url=gateway.gateway_url)
        log.addHandler(handler)
        try:
            log.warning("ignored: no rollout id")
            log.warning("r1 failed", extra={"rollout_id": "r1", "extras": {"answer_chars": 3},
                                            "status": Status.rollout_resource_exhausted_error("429")})
            log.info("r1 done", extra={"rollout_id": "r1", "status": Status.rollout_finished()})
        finally:
            log.removeHandler(handler)
        assert [e.message for e in gateway.log_entries] == ["r1 failed", "r1 done"]
        status = requests.get(f"{gateway.url}/v1/status", params={"rollout_id": "r1"}).json()
        assert status["status"] == {"code": Status.Code.FINISHED}  # the latest one
        logs = FireworksTracingAdapter(base_url=gateway.url).search_logs(tags=["rollout_id:r1"])
        assert [e["message"] for e in logs] == ["r1 done", "r1 failed"]  # newest first
        assert logs[1]["extras"]["answer_chars"] == 3 and logs[1]["status"]["code"] == Status.Code.RESOURCE_EXHAUSTED
        assert requests.get(f"{gateway.url}/v1/status", params={"rollout_id": "other"}).json()["status"] is None
        gateway.set_answer("w", "```svg\n<svg></svg>\n```")
        ids = "/rollout_id/r1/invocation_id/i/experiment_id/e/run_id/u/row_id/w"
        reply = requests.post(f"{gateway.model_base_url}{ids}/chat/completions",
                              json={"model": "m", "messages": [{"role": "user", "content": "draw"}]}).json()
        assert reply["choices"][0]["message"]["content"].startswith("```svg")
        (row,) = FireworksTracingAdapter(base_url=gateway.url).get_evaluation_rows(tags=["rollout_id:r1"])
        assert [m.role for m in row.messages] == ["user", "assistant"]
        assert (row.execution_metadata.rollout_id, row.execution_metadata.run_id, row.input_metadata.row_id) == \
            ("r1", "u", "w")


# --------------------------------------------------------------------------- the rehearsal
def test_the_rehearsal_scores_the_same_rows_the_same_as_the_single_turn_path(tmp_path):
    rehearsal = rehearse_remote_evaluation(output_dir=tmp_path / "remote", max_rows=4)
    local = evaluation.run_evaluator(output_dir=tmp_path / "local", extra_args=["--ep-max-rows=4"])
    assert rehearsal.run.returncode == 0, rehearsal.run.summary
    assert rehearsal.statuses == {"FINISHED": 4} and rehearsal.traced == 4 and rehearsal.model_calls == 4
    comparison = compare_scores(rehearsal.run, local)
    assert comparison.matched == 4 and comparison.identical == 4 and comparison.max_difference == 0
    assert {s.row_id for s in rehearsal.run.scores} == {e.example_id for e in dataset.load_examples()[:4]}
    assert "Rehearsal" in rehearsal.summary() and "not model output" in rehearsal.summary()
    assert "4 of 4 rows scored identically" in str(comparison)


def test_the_local_stack_env_blanks_keys_and_points_at_localhost():
    with local_remote_stack() as stack:
        env = stack.env
        assert env["SVGKIT_ROLLOUT_MODEL_BASE_URL"].startswith("http://localhost:")
        assert env["FIREWORKS_API_KEY"] == "" and env["EP_REMOTE_API_KEY"] == ""
        assert requests.get(env["SVGKIT_ROLLOUT_SERVER_URL"]).json()["status"] == "ok"
