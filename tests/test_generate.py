"""svgkit.generate against the chat stand-in on 127.0.0.1 (svgkit.standin), through the real openai client."""

import _thread
import asyncio
import itertools
import json
import logging
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from svgkit import generate as gen_mod
from svgkit.config import MODELS, MissingKeyError, Secret, Settings, get_settings
from svgkit.generate import (
    BUNDLED_EXAMPLE,
    Generation,
    agenerate,
    average_prompt_tokens,
    generate,
    generation_mode,
    load_generations,
    offline_generations,
)
from svgkit.http_client import RetryPolicy
from svgkit.standin import ChatStandin, Completion, Request, Response

KEY = "sk-test-DO-NOT-LEAK-4f1c9e"
MODEL = "test/policy-1"
LIVE = Settings()  # no forced mode: tests/conftest.py sets SVGKIT_MODE=offline in the environment
FAST_RETRY = RetryPolicy(max_retries=2, base_delay_s=0.001, max_delay_s=0.01)
FAST = {"progress": False}


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


def echo(request: Request) -> Completion:
    """Answer with the last user message, so each record can be traced to its request."""
    body = request.json()
    return Completion(f"<svg>{body['messages'][-1]['content']}</svg>", prompt_tokens=11, completion_tokens=7)


@pytest.fixture
def server(chat_standin):
    chat_standin.responder = echo
    return chat_standin


def retry(max_retries: int = 2, **changes) -> RetryPolicy:
    return RetryPolicy(**{"max_retries": max_retries, "base_delay_s": 0.001, "max_delay_s": 0.01, **changes})


def run(server: ChatStandin, rows, out_path, *, max_retries: int = 2, **kwargs) -> list[Generation]:
    options = {"model": MODEL, "n": 1, "temperature": 0.7, "base_url": server.base_url, "api_key": KEY,
               "settings": LIVE, "concurrency": 2, "retry": retry(max_retries), **FAST, **kwargs}
    return generate(rows, out_path=out_path, **options)


def bearers(server: ChatStandin) -> list[str | None]:
    """Make the stand-in note the bearer token of every request (its records never hold it)."""
    seen: list[str | None] = []
    inner = server.responder

    def noting(request: Request):
        seen.append(request.bearer)
        return inner(request)

    server.responder = noting
    return seen


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- requests
def test_requests_carry_model_messages_temperature_and_one_sample_each(server, tmp_path):
    out = tmp_path / "gens.jsonl"
    rows = make_rows(2)
    sent_keys = bearers(server)
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
        assert req.headers["authorization"] == "***"  # the stand-in never records a key...
    assert sent_keys == [KEY] * 6  # ... but every request carried it
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


def test_concurrency_is_bounded(chat_standin, tmp_path):
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def slow(request: Request) -> Completion:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return echo(request)

    chat_standin.responder = slow
    gens = run(chat_standin, make_rows(4), tmp_path / "g.jsonl", n=2, concurrency=3)
    assert all(g.ok for g in gens) and len(gens) == 8
    assert 2 <= state["max"] <= 3


# --------------------------------------------------------------------------- retries and failures
def test_429_and_500_are_retried_then_succeed(server, tmp_path):
    server.push(Response.error(429), Response.error(500))
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", max_retries=3)
    assert g.ok and g.attempts == 3 and g.response == "<svg>Draw thing 0.</svg>"
    assert len(server.chat_requests) == 3


def test_retries_are_bounded_and_failure_is_recorded(chat_standin, tmp_path):
    out = tmp_path / "g.jsonl"
    chat_standin.default = Response.error(503, "overloaded")
    # Six 503s in a row would open the default breaker (5) before the last retry: keep it out of this test.
    gens = run(chat_standin, make_rows(2), out, max_retries=2, breaker_threshold=7)
    assert len(chat_standin.chat_requests) == 2 * 3  # first attempt + 2 retries each
    assert [g.ok for g in gens] == [False, False]
    assert all(g.response is None and g.attempts == 3 for g in gens)
    assert all(g.error == "HTTP 503: overloaded (gave up after 3 attempts)" for g in gens)
    assert [rec["error"] is not None for rec in lines(out)] == [True, True]


def test_retry_after_header_is_honoured_but_capped(server, tmp_path):
    server.push(Response.error(429, headers={"retry-after": "3600"}))
    started = time.monotonic()
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", retry=retry(max_delay_s=0.05))
    assert g.ok and g.attempts == 2
    assert time.monotonic() - started < 5


def test_timeouts_and_dropped_connections_are_retried(server, tmp_path):
    server.push(Response.hang(2.0), Response.dropped())
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", request_timeout_s=0.3, max_retries=2)
    assert g.ok and g.attempts == 3


def test_client_errors_are_not_retried_and_do_not_stop_other_rows(chat_standin, tmp_path):
    def picky(request: Request):
        if "thing 1" in request.json()["messages"][-1]["content"]:
            return Response.error(400, "prompt rejected")
        return echo(request)

    chat_standin.responder = picky
    gens = run(chat_standin, make_rows(3), tmp_path / "g.jsonl", max_retries=3)
    assert len(chat_standin.chat_requests) == 3
    assert [g.ok for g in gens] == [True, False, True]
    assert gens[1].error == "HTTP 400: prompt rejected"


def test_auth_failure_stops_sending_the_rest(chat_standin, tmp_path):
    chat_standin.default = Response.error(401, "invalid api key")
    gens = run(chat_standin, make_rows(10), tmp_path / "g.jsonl", concurrency=2, max_retries=3)
    assert len(chat_standin.chat_requests) <= 2
    assert len(gens) == 10 and not any(g.ok for g in gens)
    assert sum(g.error.startswith("not sent: an earlier request failed with HTTP 401") for g in gens) >= 8
    assert all("401" in g.error for g in gens)


def test_null_content_is_kept_as_an_answer(server, tmp_path):
    server.push(Completion(None, finish_reason="length"))
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl")
    assert g.ok and g.response is None and g.finish_reason == "length"


# --------------------------------------------------------------------------- HTTP faults (the stand-in's scripts)
def test_a_trickling_answer_ends_at_the_request_deadline_and_the_connection_is_closed(server, tmp_path):
    """One byte per second: each read is quick, so only a wall-clock deadline per request bounds it."""
    server.push(lambda r: Response.trickle(Completion("<svg>" + "x" * 200 + "</svg>")(r), seconds_per_byte=1.0))
    started = time.monotonic()
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", request_timeout_s=2.0, max_retries=0)
    took = time.monotonic() - started
    assert took < 2.0 + 2.0  # measured: about 2.0 s (before the layer: until the trickle ended, 30 s here)
    assert not g.ok and g.error == "timed out after 2 s" and g.attempts == 1
    assert server.wait_idle()  # the client closed its end: the trickle's next byte fails and the answer ends


def test_a_hung_server_costs_one_deadline_per_attempt(server, tmp_path):
    server.push(Response.hang(), Response.hang())
    started = time.monotonic()
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", request_timeout_s=1.0, max_retries=1)
    took = time.monotonic() - started
    assert took < 2 * 1.0 + 2.0  # measured: about 2.0 s
    assert not g.ok and g.attempts == 2
    assert g.error == "timed out after 1 s (gave up after 2 attempts)"


def test_the_sample_deadline_bounds_all_attempts_together(server, tmp_path):
    server.push(*[Response.hang()] * 5)
    started = time.monotonic()
    (g,) = run(server, make_rows(1), tmp_path / "g.jsonl", request_timeout_s=1.0,
               retry=retry(max_retries=4, total_s=1.5))
    took = time.monotonic() - started
    assert took < 1.5 + 2.0  # measured: about 1.5 s; 4 retries would otherwise take 5 s
    assert not g.ok and g.attempts == 2 and g.error == (
        "timed out at the 1.5 s deadline of this call (gave up after 2 attempts)")


def test_a_dead_endpoint_trips_the_breaker_keeps_what_arrived_and_a_rerun_asks_for_the_rest(
        chat_standin, tmp_path, caplog):
    """The endpoint answers twice, then never again (it accepts connections and hangs)."""
    answered = itertools.count()
    chat_standin.responder = lambda r: echo(r) if next(answered) < 2 else Response.hang()
    out = tmp_path / "g.jsonl"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        gens = run(chat_standin, make_rows(10), out, concurrency=1, request_timeout_s=0.5, max_retries=2,
                   breaker_threshold=3)
    took = time.monotonic() - started
    # measured: about 1.6 s (2 answers + 3 timeouts of 0.5 s). Without the breaker the 8 dead rows
    # would cost 8 x 3 x 0.5 s = 12 s here, and 8 x (4 x 120 s + waits) = about 65 minutes with the defaults.
    assert took < 3 * 0.5 + 3.0
    assert len(chat_standin.chat_requests) == 2 + 3
    assert [g.ok for g in gens] == [True, True] + [False] * 8
    assert gens[2].error == "timed out after 0.5 s (gave up after 3 attempts)"
    assert all(g.error.startswith("not sent: the endpoint failed 3 times in a row") and g.attempts == 0
               for g in gens[3:])
    assert "stopped asking" in gens[3].error and "generation stopped early" in caplog.text
    assert [rec["error"] is None for rec in lines(out)] == [True, True] + [False] * 8  # kept on disk

    chat_standin.responder = echo  # the endpoint is back: the rerun asks only for the 8 failures
    again = run(chat_standin, make_rows(10), out, concurrency=1)
    assert len(chat_standin.chat_requests) == 5 + 8
    assert all(g.ok for g in again) and again[:2] == gens[:2]


def test_a_refused_connection_trips_the_breaker_quickly(tmp_path):
    with ChatStandin() as gone:
        url = gone.base_url
    # the stand-in is shut down: its port refuses connections, as a server that is not running
    started = time.monotonic()
    gens = generate(make_rows(6), model=MODEL, out_path=tmp_path / "g.jsonl", base_url=url, api_key=KEY,
                    settings=LIVE, concurrency=1, retry=retry(max_retries=3), breaker_threshold=4, **FAST)
    took = time.monotonic() - started
    assert took < 5  # measured: about 0.1 s
    assert gens[0].error.startswith("connection failed") and gens[0].attempts == 4
    assert all(g.error.startswith("not sent: the endpoint failed 4 times in a row") for g in gens[1:])


def test_a_200_with_html_is_a_failure_that_a_rerun_asks_again(server, tmp_path):
    out = tmp_path / "g.jsonl"
    server.push(Response.text("<html><body><h1>502 Bad Gateway</h1></body></html>"))
    (g,) = run(server, make_rows(1), out, max_retries=3)
    assert not g.ok and g.response is None and g.attempts == 1  # paid for: not retried at once
    assert g.error == ("HTTP 200 with a body that is not JSON (text/html): "
                       "'<html><body><h1>502 Bad Gateway</h1></body></html>'")
    (again,) = run(server, make_rows(1), out)
    assert again.ok and again.response == "<svg>Draw thing 0.</svg>" and len(server.chat_requests) == 2


@pytest.mark.parametrize(("payload", "reason"), [
    ({"choices": "nope"}, "'choices' is not a non-empty list (got 'nope')"),
    ({"choices": []}, "'choices' is not a non-empty list"),
    ({"choices": [{"index": 0, "finish_reason": "stop"}]}, "choices[0] has no 'message' object"),
    ({"choices": [{"message": {"role": "assistant", "content": 42}}]}, "content is a JSON int, not a string"),
    ({"choices": [{"message": {"content": ["<svg/>"]}}]}, "content is a JSON list, not a string"),
    ([{"content": "<svg/>"}], "the body is a JSON list, not an object"),
    ({"error": {"message": "model overloaded"}}, "HTTP 200 carrying an error: model overloaded"),
])
def test_a_200_with_json_of_the_wrong_shape_is_a_failure_that_a_rerun_asks_again(server, tmp_path, payload, reason):
    out = tmp_path / "g.jsonl"
    server.push(Response.json(payload))
    (g,) = run(server, make_rows(1), out)
    assert not g.ok and g.response is None and reason in g.error
    assert load_generations(out)[0].error == g.error
    (again,) = run(server, make_rows(1), out)
    assert again.ok and again.response == "<svg>Draw thing 0.</svg>"


# --------------------------------------------------------------------------- keys
LEAKY_KEY = "fw-Zq8x/Lm+3kP=9vT2wR7 u"  # '/', '+', '=' and a space: every URL-encoding differs


def leaks(text: str, key: str = LEAKY_KEY) -> list[str]:
    """Every form of ``key`` found in ``text``: whole, a prefix of 8+ characters, URL-encoded."""
    forms = {key[:n] for n in range(8, len(key) + 1)}
    forms |= {f(key[:n]) for n in range(8, len(key) + 1) for f in (quote, quote_plus)}
    forms |= {quote(key[:n], safe="") for n in range(8, len(key) + 1)}
    forms |= {f.lower() for f in forms if "%" in f}
    return sorted(f for f in forms if f in text)


def test_an_error_body_echoing_the_key_never_reaches_records_files_or_logs(chat_standin, tmp_path, caplog, capsys):
    def leaky(request: Request) -> Response:  # a server that echoes what it got, in every form
        key = request.bearer or ""
        if "thing 0" in request.json()["messages"][-1]["content"]:
            return Response.error(500, f"overloaded for {key[:12]}... (url {quote(key, safe='')})")
        return Response.error(400, f"bad key {quote_plus(key)} prefix {key[:9]} full {key}")

    out = tmp_path / "g.jsonl"
    caplog.set_level(logging.DEBUG)
    chat_standin.responder = leaky
    gens = run(chat_standin, make_rows(2), out, api_key=LEAKY_KEY, max_retries=1, progress=True)
    assert [g.attempts for g in gens] == [2, 1] and all(not g.ok and "***" in g.error for g in gens)
    assert gens[1].error == "HTTP 400: bad key *** prefix *** full ***"
    assert "retry 1/1" in caplog.text  # the retry was logged, scrubbed
    captured = capsys.readouterr()
    for text in (out.read_text(), caplog.text, repr(gens), str(gens), captured.out, captured.err,
                 json.dumps([r.headers for r in chat_standin.requests])):
        assert leaks(text) == []


def test_secret_objects_are_accepted(server, tmp_path):
    sent = bearers(server)
    run(server, make_rows(1), tmp_path / "g.jsonl", api_key=Secret(KEY))
    assert sent == [KEY]


def test_fireworks_key_is_never_sent_to_another_server(server, tmp_path):
    sent = bearers(server)
    settings = Settings(fireworks_api_key=Secret(KEY))
    run(server, make_rows(1), tmp_path / "g.jsonl", api_key=None, settings=settings)
    assert sent == ["EMPTY"]


def test_an_openai_key_in_the_environment_is_never_sent_to_another_server(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-key-123")  # the openai client would pick it up itself
    sent = bearers(server)
    run(server, make_rows(1), tmp_path / "g.jsonl", api_key=None)
    assert sent == ["EMPTY"]


def test_generation_base_url_from_environment(server, tmp_path):
    settings = get_settings({"SVGKIT_GENERATION_BASE_URL": server.base_url}, read_dotenv=False)
    gens = generate(make_rows(1), model=MODEL, out_path=tmp_path / "g.jsonl", settings=settings, **FAST)
    assert gens[0].source == "live" and len(server.chat_requests) == 1


def test_settings_none_reads_the_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SVGKIT_MODE", "")
    monkeypatch.setenv("SVGKIT_GENERATION_BASE_URL", server.base_url)
    gens = generate(make_rows(1), model=MODEL, out_path=None, settings=None, **FAST)
    assert gens[0].source == "live" and len(server.chat_requests) == 1
    assert generation_mode(settings=None) == "live"
    monkeypatch.setenv("SVGKIT_MODE", "offline")
    assert generation_mode(settings=None) == "offline"


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
    server.push(Response.error(400, "flaky"))
    first = run(server, make_rows(3), out, concurrency=1)
    assert sum(not g.ok for g in first) == 1
    second = run(server, make_rows(3), out)
    assert len(server.chat_requests) == 4  # 3 + only the failed one again
    assert all(g.ok for g in second)
    assert len(lines(out)) == 3  # the superseded failure line was compacted away


def test_interrupted_run_resumes_with_only_the_missing_samples(chat_standin, tmp_path):
    out = tmp_path / "g.jsonl"

    def slow(request: Request) -> Completion:
        time.sleep(0.03)
        return echo(request)

    async def interrupted(srv: ChatStandin) -> None:
        task = asyncio.create_task(agenerate(
            make_rows(4), model=MODEL, n=2, out_path=out, base_url=srv.base_url, api_key=KEY,
            settings=LIVE, concurrency=1, retry=FAST_RETRY, **FAST))
        deadline = time.monotonic() + 10
        while (not out.exists() or len(lines(out)) < 3) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    chat_standin.responder = slow
    asyncio.run(interrupted(chat_standin))
    assert chat_standin.wait_idle()
    done_before = len(lines(out))
    assert 3 <= done_before < 8
    sent_before = len(chat_standin.chat_requests)
    gens = run(chat_standin, make_rows(4), out, n=2)
    assert len(chat_standin.chat_requests) - sent_before == 8 - done_before
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


def test_interrupting_the_caller_stops_sending(chat_standin, tmp_path):
    received = itertools.count(1)

    def slow(request: Request) -> Completion:
        if next(received) == 3:  # the caller is waiting in generate(): interrupt it now
            _thread.interrupt_main()
        time.sleep(0.05)
        return echo(request)

    async def notebook_cell() -> None:  # a loop without asyncio's SIGINT handler, as in Jupyter
        with pytest.raises(KeyboardInterrupt):
            generate(make_rows(50), model=MODEL, out_path=out, base_url=srv.base_url, api_key=KEY,
                     settings=LIVE, concurrency=1, retry=FAST_RETRY, **FAST)

    out = tmp_path / "g.jsonl"
    srv = chat_standin
    srv.responder = slow
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(notebook_cell())
    finally:
        loop.close()
    assert srv.wait_idle()
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
        (make_rows(1), {"request_timeout_s": 0}, "request_timeout_s"),
        (make_rows(1), {"breaker_threshold": 0}, "breaker_threshold"),
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


# --------------------------------------------------------------------------- cost inputs
def test_average_prompt_tokens():
    rows = [{"messages": [{"role": "user", "content": "x" * 400}], "input_metadata": {"row_id": "a"}}]
    assert 100 <= average_prompt_tokens(rows) <= 110
    assert average_prompt_tokens([]) == 0.0


def test_generation_without_the_spending_opt_in_calls_nothing(chat_standin, tmp_path):
    from svgkit.config import get_settings, with_spending

    rows = [{"messages": [{"role": "user", "content": "Draw."}],
             "input_metadata": {"row_id": "r", "dataset_info": {"prompt_id": "sc01"}}}]
    server = chat_standin
    server.default = Completion("```svg\n<svg/>\n```")
    settings = with_spending(False, get_settings({"FIREWORKS_API_KEY": "fw-x"}, read_dotenv=False))
    for base in (None, server.base_url):
        gens = gen_mod.generate(rows, n=1, out_path=None, base_url=base, settings=settings, progress=False)
        assert {g.source for g in gens} == {"bundled-example"}
    assert server.requests == []
