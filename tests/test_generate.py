"""svgkit.generate against a real chat-completions server on 127.0.0.1 (tests/chat_server.py)."""

import _thread
import asyncio
import itertools
import json
import logging
import threading
import time
from pathlib import Path

import pytest
from chat_server import ChatServer, RecordedRequest, Reply

from svgkit import generate as gen_mod
from svgkit.config import MODELS, PRICES, MissingKeyError, Secret, Settings, get_settings
from svgkit.generate import (
    BUNDLED_EXAMPLE,
    CostEstimate,
    Generation,
    agenerate,
    average_prompt_tokens,
    estimate_cost,
    generate,
    generation_mode,
    load_generations,
    offline_generations,
)

KEY = "sk-test-DO-NOT-LEAK-4f1c9e"
MODEL = "test/policy-1"
LIVE = Settings()  # no forced mode: tests/conftest.py sets SVGKIT_MODE=offline in the environment
FAST = {"retry_base_delay_s": 0.001, "retry_max_delay_s": 0.01, "progress": False}


def make_rows(k: int = 2) -> list[dict]:
    return [
        {
            "messages": [
                {"role": "system", "content": "You draw SVG."},
                {"role": "user", "content": f"Draw thing {i}."},
            ],
            "input_metadata": {"row_id": f"row_{i}", "dataset_info": {"prompt_id": f"p{i}"}},
        }
        for i in range(k)
    ]


def echo(request: RecordedRequest) -> Reply:
    """Answer with the last user message, so each record can be traced to its request."""
    body = request.json
    return Reply.completion(f"<svg>{body['messages'][-1]['content']}</svg>", prompt_tokens=11,
                            completion_tokens=7)


@pytest.fixture
def server():
    with ChatServer(responder=echo) as srv:
        yield srv


def run(server: ChatServer, rows, out_path, **kwargs) -> list[Generation]:
    options = {"model": MODEL, "n": 1, "temperature": 0.7, "base_url": server.base_url, "api_key": KEY,
               "settings": LIVE, "concurrency": 2, "max_retries": 2, **FAST, **kwargs}
    return generate(rows, out_path=out_path, **options)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- requests
def test_requests_carry_model_messages_temperature_and_one_sample_each(server, tmp_path):
    out = tmp_path / "gens.jsonl"
    rows = make_rows(2)
    gens = run(server, rows, out, n=3, max_tokens=321)

    reqs = server.chat_requests
    assert len(reqs) == 6  # 2 rows x 3 samples, one request per sample
    for req in reqs:
        body = req.json
        assert req.path == "/v1/chat/completions"
        assert body["model"] == MODEL
        assert body["temperature"] == 0.7
        assert body["max_tokens"] == 321
        assert body.get("n", 1) == 1
        assert req.headers["authorization"] == f"Bearer {KEY}"
    sent = sorted(r.json["messages"][-1]["content"] for r in reqs)
    assert sent == ["Draw thing 0."] * 3 + ["Draw thing 1."] * 3
    assert reqs[0].json["messages"][0] == {"role": "system", "content": "You draw SVG."}

    assert [(g.row_id, g.sample_index) for g in gens] == [
        ("row_0", 0), ("row_0", 1), ("row_0", 2), ("row_1", 0), ("row_1", 1), ("row_1", 2)]
    g = gens[4]
    assert g.response == "<svg>Draw thing 1.</svg>"
    assert (g.model, g.source, g.error, g.finish_reason) == (MODEL, "live", None, "stop")
    assert (g.prompt_tokens, g.completion_tokens, g.total_tokens, g.attempts) == (11, 7, 18, 1)
    assert g.ok and g.latency_s is not None
    assert len(lines(out)) == 6
    assert load_generations(out) and {x.key for x in load_generations(out)} == {x.key for x in gens}


def test_extra_body_and_no_max_tokens(server, tmp_path):
    run(server, make_rows(1), tmp_path / "g.jsonl", max_tokens=None, extra_body={"reasoning_effort": "low"})
    body = server.chat_requests[0].json
    assert "max_tokens" not in body
    assert body["reasoning_effort"] == "low"


def test_evaluation_rows_and_trailing_assistant_message(server, tmp_path):
    from eval_protocol.models import EvaluationRow, InputMetadata, Message

    rows = [
        EvaluationRow(
            messages=[Message(role="user", content="Draw a cat."), Message(role="assistant", content="old")],
            input_metadata=InputMetadata(row_id="cat", dataset_info={"prompt_id": "p-cat"}),
        )
    ]
    (g,) = run(server, rows, tmp_path / "g.jsonl")
    assert server.chat_requests[0].json["messages"] == [{"role": "user", "content": "Draw a cat."}]
    assert (g.row_id, g.response) == ("cat", "<svg>Draw a cat.</svg>")


def test_rows_without_row_id_get_a_stable_id(server, tmp_path):
    rows = [{"messages": [{"role": "user", "content": "Draw a dog."}]}]
    first = run(server, rows, tmp_path / "g.jsonl")
    second = run(server, rows, tmp_path / "g.jsonl")
    assert first[0].row_id.startswith("row-") and first[0].row_id == second[0].row_id
    assert len(server.chat_requests) == 1


def test_concurrency_is_bounded(tmp_path):
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def slow(request: RecordedRequest) -> Reply:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return echo(request)

    with ChatServer(responder=slow) as srv:
        gens = run(srv, make_rows(4), tmp_path / "g.jsonl", n=2, concurrency=3)
    assert all(g.ok for g in gens) and len(gens) == 8
    assert 2 <= state["max"] <= 3


# --------------------------------------------------------------------------- retries and failures
def test_429_and_500_are_retried_then_succeed(server, tmp_path):
    server.push(Reply.status(429), Reply.status(500))
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", max_retries=3)
    assert g.ok and g.attempts == 3 and g.response == "<svg>Draw thing 0.</svg>"
    assert len(server.chat_requests) == 3


def test_retries_are_bounded_and_failure_is_recorded(tmp_path):
    out = tmp_path / "g.jsonl"
    with ChatServer(default=Reply.status(503, "overloaded")) as srv:
        gens = run(srv, make_rows(2), out, max_retries=2)
        assert len(srv.chat_requests) == 2 * 3  # first attempt + 2 retries each
    assert [g.ok for g in gens] == [False, False]
    assert all(g.response is None and g.attempts == 3 and "503" in g.error for g in gens)
    assert [rec["error"] is not None for rec in lines(out)] == [True, True]


def test_retry_after_header_is_honoured_but_capped(server, tmp_path):
    server.push(Reply.status(429, headers={"retry-after": "3600"}))
    started = time.monotonic()
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", retry_max_delay_s=0.05)
    assert g.ok and g.attempts == 2
    assert time.monotonic() - started < 5


def test_timeouts_and_dropped_connections_are_retried(server, tmp_path):
    server.push(Reply.hang(2.0), Reply.drop())
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", request_timeout_s=0.3, max_retries=2)
    assert g.ok and g.attempts == 3


def test_client_errors_are_not_retried_and_do_not_stop_other_rows(tmp_path):
    def picky(request: RecordedRequest) -> Reply:
        if "thing 1" in request.json["messages"][-1]["content"]:
            return Reply.status(400, "prompt rejected")
        return echo(request)

    with ChatServer(responder=picky) as srv:
        gens = run(srv, make_rows(3), tmp_path / "g.jsonl", max_retries=3)
        assert len(srv.chat_requests) == 3
    assert [g.ok for g in gens] == [True, False, True]
    assert gens[1].error.startswith("HTTP 400") and "prompt rejected" in gens[1].error


def test_garbage_and_empty_choices_become_failure_records(server, tmp_path):
    server.push(Reply.garbage())
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", max_retries=0)
    assert not g.ok and g.response is None


def test_auth_failure_stops_sending_the_rest(tmp_path):
    with ChatServer(default=Reply.status(401, "invalid api key")) as srv:
        gens = run(srv, make_rows(10), tmp_path / "g.jsonl", concurrency=2, max_retries=3)
        assert len(srv.chat_requests) <= 2
    assert len(gens) == 10 and not any(g.ok for g in gens)
    assert sum(g.error.startswith("not sent:") for g in gens) >= 8
    assert all("401" in g.error for g in gens)


def test_null_content_is_kept_as_an_answer(server, tmp_path):
    server.push(Reply.completion(None, finish_reason="length"))
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl")
    assert g.ok and g.response is None and g.finish_reason == "length"


# --------------------------------------------------------------------------- keys
def test_key_never_appears_in_records_files_logs_or_output(tmp_path, caplog, capsys):
    def leaky(request: RecordedRequest) -> Reply:  # a server that echoes the header back
        return Reply.status(500, f"bad request with {request.headers.get('authorization')}")

    out = tmp_path / "g.jsonl"
    caplog.set_level(logging.DEBUG)
    with ChatServer(responder=leaky) as srv:
        gens = run(srv, make_rows(2), out, max_retries=1, progress=True)
        assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in srv.chat_requests)
    assert all(not g.ok and "***" in g.error for g in gens)
    captured = capsys.readouterr()
    for text in (out.read_text(), caplog.text, repr(gens), str(gens), captured.out, captured.err):
        assert KEY not in text


def test_secret_objects_are_accepted(server, tmp_path):
    run(server, make_rows(1), tmp_path / "g.jsonl", api_key=Secret(KEY))
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_fireworks_key_is_never_sent_to_another_server(server, tmp_path):
    settings = Settings(fireworks_api_key=Secret(KEY))
    run(server, make_rows(1), tmp_path / "g.jsonl", api_key=None, settings=settings)
    assert server.chat_requests[0].headers["authorization"] == "Bearer EMPTY"


def test_generation_base_url_from_environment(server, tmp_path):
    settings = get_settings({"SVGKIT_GENERATION_BASE_URL": server.base_url}, read_dotenv=False)
    gens = generate(make_rows(1), model=MODEL, out_path=tmp_path / "g.jsonl", settings=settings, **FAST)
    assert gens[0].source == "live" and len(server.chat_requests) == 1


# --------------------------------------------------------------------------- resume
def test_second_run_sends_nothing_for_finished_samples(server, tmp_path):
    out = tmp_path / "g.jsonl"
    first = run(server, make_rows(3), out, n=2)
    assert len(server.chat_requests) == 6
    second = run(server, make_rows(3), out, n=2)
    assert len(server.chat_requests) == 6
    assert second == first
    # more samples or rows: only the new ones are asked for
    third = run(server, make_rows(4), out, n=3)
    assert len(server.chat_requests) == 6 + (4 * 3 - 6)
    assert len(third) == 12 and len(lines(out)) == 12


def test_failed_samples_are_retried_on_the_next_run_and_file_is_compacted(server, tmp_path):
    out = tmp_path / "g.jsonl"
    server.push(Reply.status(400, "flaky"))
    first = run(server, make_rows(3), out, concurrency=1)
    assert sum(not g.ok for g in first) == 1
    second = run(server, make_rows(3), out)
    assert len(server.chat_requests) == 4  # 3 + only the failed one again
    assert all(g.ok for g in second)
    assert len(lines(out)) == 3  # the superseded failure line was compacted away


def test_interrupted_run_resumes_with_only_the_missing_samples(tmp_path):
    out = tmp_path / "g.jsonl"

    def slow(request: RecordedRequest) -> Reply:
        time.sleep(0.03)
        return echo(request)

    async def interrupted(srv: ChatServer) -> None:
        task = asyncio.create_task(agenerate(
            make_rows(4), model=MODEL, n=2, out_path=out, base_url=srv.base_url, api_key=KEY,
            settings=LIVE, concurrency=1, **FAST))
        deadline = time.monotonic() + 10
        while (not out.exists() or len(lines(out)) < 3) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with ChatServer(responder=slow) as srv:
        asyncio.run(interrupted(srv))
        done_before = len(lines(out))
        assert 3 <= done_before < 8
        sent_before = len(srv.chat_requests)
        gens = run(srv, make_rows(4), out, n=2)
        assert len(srv.chat_requests) - sent_before == 8 - done_before
    assert len(gens) == 8 and all(g.ok for g in gens)
    assert len(lines(out)) == 8


def test_partial_last_line_is_tolerated_and_repaired(server, tmp_path):
    out = tmp_path / "g.jsonl"
    run(server, make_rows(3), out)
    text = out.read_text()
    out.write_text(text[: text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").splitlines()[-1][:25])
    assert len(load_generations(out)) == 2
    gens = run(server, make_rows(3), out)
    assert len(server.chat_requests) == 4
    assert all(g.ok for g in gens) and len(lines(out)) == 3


def test_last_line_without_newline_still_counts(server, tmp_path):
    out = tmp_path / "g.jsonl"
    run(server, make_rows(2), out)
    out.write_text(out.read_text().rstrip("\n"))
    run(server, make_rows(3), out)
    assert len(server.chat_requests) == 3
    assert len(lines(out)) == 3


def test_file_from_another_model_or_not_a_generations_file_is_refused(server, tmp_path):
    out = tmp_path / "g.jsonl"
    run(server, make_rows(1), out)
    with pytest.raises(ValueError, match="other|another|test/policy-1"):
        run(server, make_rows(1), out, model="test/other-model")
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"hello": 1}\n{"row_id": "x", "sample_index": 0, "model": "m"}\n')
    with pytest.raises(ValueError, match="line 1"):
        run(server, make_rows(1), junk)
    assert len(server.chat_requests) == 1


def test_no_out_path_keeps_nothing(server, tmp_path):
    run(server, make_rows(1), None)
    run(server, make_rows(1), None)
    assert len(server.chat_requests) == 2


# --------------------------------------------------------------------------- event loops
def test_sync_generate_works_inside_a_running_event_loop(server, tmp_path):
    async def notebook_cell() -> list[Generation]:
        return run(server, make_rows(2), tmp_path / "g.jsonl")

    gens = asyncio.run(notebook_cell())
    assert [g.ok for g in gens] == [True, True]


def test_interrupting_the_caller_stops_sending(tmp_path):
    received = itertools.count(1)

    def slow(request: RecordedRequest) -> Reply:
        if next(received) == 3:  # the caller is waiting in generate(): interrupt it now
            _thread.interrupt_main()
        time.sleep(0.05)
        return echo(request)

    async def notebook_cell() -> None:  # a loop without asyncio's SIGINT handler, as in Jupyter
        with pytest.raises(KeyboardInterrupt):
            generate(make_rows(50), model=MODEL, out_path=out, base_url=srv.base_url, api_key=KEY,
                     settings=LIVE, concurrency=1, **FAST)

    out = tmp_path / "g.jsonl"
    with ChatServer(responder=slow) as srv:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(notebook_cell())
        finally:
            loop.close()
        sent = len(srv.chat_requests)
        time.sleep(0.3)
        assert len(srv.chat_requests) == sent < 50
    assert len(lines(out)) <= sent
    assert not hasattr(gen_mod, "_run_in_worker_thread")  # one implementation: svgkit._aio.run_sync


# --------------------------------------------------------------------------- offline
EXAMPLES = [
    {"example_id": "p0-a", "prompt_id": "p0", "quality": "good", "faults": [], "response": "A0",
     "labels": [True], "label_notes": ""},
    {"example_id": "p0-b", "prompt_id": "p0", "quality": "poor", "faults": ["x"], "response": "B0",
     "labels": [False], "label_notes": ""},
    {"example_id": "r2-a", "prompt_id": "row_2", "quality": "good", "faults": [], "response": "A2",
     "labels": [True], "label_notes": ""},
]


def test_offline_generations_map_rows_by_prompt_id_then_row_id(caplog):
    rows = make_rows(4)
    rows[2]["input_metadata"]["dataset_info"] = None  # falls back to row_id
    with caplog.at_level(logging.WARNING):
        gens = offline_generations(EXAMPLES, rows)
    assert [(g.row_id, g.sample_index, g.example_id, g.response) for g in gens] == [
        ("row_0", 0, "p0-a", "A0"), ("row_0", 1, "p0-b", "B0"), ("row_2", 0, "r2-a", "A2")]
    assert all(g.source == BUNDLED_EXAMPLE and g.model == BUNDLED_EXAMPLE and g.ok for g in gens)
    assert "row_1" in caplog.text and "row_3" in caplog.text


def test_offline_rows_naming_an_example_get_only_that_one():
    rows = make_rows(1)
    rows[0]["input_metadata"]["dataset_info"]["example_id"] = "p0-b"
    rows[0]["messages"].append({"role": "assistant", "content": "B0"})
    (g,) = offline_generations(EXAMPLES, rows)
    assert g.example_id == "p0-b"


def test_offline_generate_sends_nothing_and_writes_nothing(server, tmp_path):
    out = tmp_path / "g.jsonl"
    forced = Settings(forced_mode="offline", fireworks_api_key=Secret(KEY))
    gens = generate(make_rows(2), model=MODEL, out_path=out, base_url=server.base_url, api_key=KEY,
                    examples=EXAMPLES, settings=forced, progress=False)
    assert [g.response for g in gens] == ["A0", "B0"]
    assert all(g.source == "bundled-example" for g in gens)
    no_key = generate(make_rows(2), model=MODEL, out_path=out, examples=EXAMPLES, settings=LIVE,
                      progress=False)
    assert no_key == gens
    assert server.chat_requests == [] and not out.exists()


def test_offline_default_reads_the_bundled_examples_file(monkeypatch, tmp_path):
    path = tmp_path / "examples.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EXAMPLES) + "\n")
    monkeypatch.setattr(gen_mod, "default_examples_path", lambda: path)
    gens = generate(make_rows(1), out_path=None, settings=LIVE, progress=False)
    assert [g.example_id for g in gens] == ["p0-a", "p0-b"]
    monkeypatch.setattr(gen_mod, "default_examples_path", lambda: tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError, match="examples="):
        generate(make_rows(1), out_path=None, settings=LIVE, progress=False)


def test_offline_works_with_the_real_bundled_data():
    dataset = pytest.importorskip("svgkit.dataset")
    prompts = dataset.load_bundled_prompts()
    examples = dataset.load_examples()
    rows = dataset.to_eval_rows(prompts, extra_metadata=True)
    gens = generate(rows, out_path=None, examples=examples, settings=Settings(forced_mode="offline"),
                    progress=False)
    assert len(gens) == len(examples)
    assert {g.example_id for g in gens} == {e.example_id for e in examples}
    assert all(g.source == "bundled-example" and g.response for g in gens)


def test_generation_mode():
    fw = MODELS.fireworks_base_url
    assert generation_mode(settings=Settings()) == "offline"
    assert generation_mode(settings=Settings(fireworks_api_key=Secret(KEY))) == "live"
    assert generation_mode(api_key=KEY, settings=Settings()) == "live"
    assert generation_mode(base_url="http://localhost:11434/v1", settings=Settings()) == "live"
    assert generation_mode(base_url=fw, api_key=KEY, settings=Settings(forced_mode="offline")) == "offline"
    with pytest.raises(MissingKeyError):
        generation_mode(settings=Settings(forced_mode="live"))


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("rows", "kwargs", "match"),
    [
        (make_rows(1), {"n": 0}, "n must be"),
        (make_rows(1), {"concurrency": 0}, "concurrency"),
        (make_rows(1), {"max_retries": -1}, "max_retries"),
        ([{"messages": []}], {}, "no 'messages'"),
        ([{"messages": [{"role": "assistant", "content": "x"}]}], {}, "only assistant"),
        (make_rows(1) + make_rows(1), {}, "share row_id"),
    ],
)
def test_bad_arguments_fail_before_any_request(server, tmp_path, rows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run(server, rows, tmp_path / "g.jsonl", **kwargs)
    assert server.chat_requests == []


def test_generation_records_round_trip():
    g = Generation("r", 1, "m", "text", "stop", 1, 2, 3, None, "live", None, 1, 0.5)
    assert Generation.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    with pytest.raises(ValueError):
        Generation.from_dict({"row_id": "r", "sample_index": -1, "model": "m"})


# --------------------------------------------------------------------------- cost
def test_estimate_cost_arithmetic_and_display():
    est = estimate_cost(10, samples=4, model="accounts/fireworks/models/gpt-oss-120b", judge_model="gpt-4.1",
                        prompt_tokens=200, completion_tokens=1000, judge_input_tokens=1000,
                        judge_output_tokens=100)
    assert isinstance(est, CostEstimate)
    assert est.generation_calls == est.judge_calls == 40
    gin, gout = PRICES["accounts/fireworks/models/gpt-oss-120b"]
    jin, jout = PRICES["gpt-4.1"]
    assert est.generation_usd == pytest.approx((40 * 200 * gin + 40 * 1000 * gout) / 1e6)
    assert est.judge_usd == pytest.approx((40 * 1000 * jin + 40 * 100 * jout) / 1e6)
    assert est.total_usd == pytest.approx(est.generation_usd + est.judge_usd)
    assert "10 rows x 4 samples" in str(est) and "gpt-4.1" in str(est)
    assert "<table>" in est._repr_html_()


def test_estimate_cost_defaults_rule_judge_and_unknown_models():
    est = estimate_cost(5)
    assert est.model == MODELS.eval_policy and est.judge_model == MODELS.judge and est.total_usd > 0
    assert estimate_cost(5, judge_calls_per_sample=3).judge_calls == 15
    free = estimate_cost(5, samples=2, judge_model=None)
    assert free.judge_calls == 0 and free.judge_usd == 0
    with pytest.raises(ValueError, match="no price"):
        estimate_cost(5, model="qwen3:0.6b")
    local = estimate_cost(5, model="qwen3:0.6b", judge_model=None, prices={"qwen3:0.6b": (0, 0)})
    assert local.total_usd == 0


def test_average_prompt_tokens():
    rows = [{"messages": [{"role": "user", "content": "x" * 400}], "input_metadata": {"row_id": "a"}}]
    assert 100 <= average_prompt_tokens(rows) <= 110
    assert average_prompt_tokens([]) == 0.0


def test_generation_without_the_spending_opt_in_calls_nothing(tmp_path):
    from svgkit.config import get_settings, with_spending

    rows = [{"messages": [{"role": "user", "content": "Draw."}],
             "input_metadata": {"row_id": "r", "dataset_info": {"prompt_id": "sc01"}}}]
    with ChatServer(default=Reply.completion("```svg\n<svg/>\n```")) as server:
        settings = with_spending(False, get_settings({"FIREWORKS_API_KEY": "fw-x"}, read_dotenv=False))
        for base in (None, server.base_url):
            gens = gen_mod.generate(rows, n=1, out_path=None, base_url=base, settings=settings, progress=False)
            assert {g.source for g in gens} == {"bundled-example"}
        assert server.requests == []
