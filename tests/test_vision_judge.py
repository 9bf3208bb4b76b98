"""VisionJudge against the chat stand-in on 127.0.0.1 (svgkit.standin), through the real openai client.

One test per failure path (every HTTP fault of the stand-in included), the request itself, the
cache, the concurrency limit, the cost accounting, and the upstream compatibility mode proven
against upstream's own function.
"""

import _thread
import asyncio
import base64
import importlib.util
import itertools
import json
import logging
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from svgkit.config import PRICES, MissingKeyError, get_settings
from svgkit.http_client import RetryPolicy
from svgkit.judge import JudgeCache, VisionJudge
from svgkit.pricing import token_cost
from svgkit.render import render_png
from svgkit.standin import ChatStandin, Completion, Request, Response

REQS = ["A red circle is in the centre.", "A blue square is in the top-left corner.", "The sky is green."]
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150">'
       '<rect x="5" y="5" width="40" height="40" fill="blue"/><circle cx="100" cy="75" r="30" fill="red"/></svg>')


def _verdicts(*flags: bool) -> dict:
    return {"verdicts": [{"index": i + 1, "reason": f"looked at {i + 1}", "fulfilled": f}
                         for i, f in enumerate(flags)], "summary": "a red circle and a blue square"}


@pytest.fixture(scope="module")
def png() -> bytes:
    res = render_png(SVG)
    assert res.ok, res.error
    return res.png


@pytest.fixture
def key() -> str:
    return f"sk-test-{uuid.uuid4().hex}"


@pytest.fixture
def server(chat_standin):
    return chat_standin


def fast(max_retries: int = 3, **changes) -> RetryPolicy:
    return RetryPolicy(**{"max_retries": max_retries, "base_delay_s": 0.01, "max_delay_s": 0.05, **changes})


def make(server: ChatStandin, key: str, **kw) -> VisionJudge:
    settings = get_settings({"OPENAI_API_KEY": key, "SVGKIT_JUDGE_BASE_URL": server.base_url}, read_dotenv=False)
    kw.setdefault("cache", None)
    kw.setdefault("retry", fast())
    kw.setdefault("request_timeout_s", 5.0)
    return VisionJudge(settings=settings, **kw)


def bearers(server: ChatStandin) -> list[str | None]:
    """Make the stand-in note the bearer token of each request (its records never hold it)."""
    seen: list[str | None] = []
    inner = server.responder

    def noting(request: Request):
        seen.append(request.bearer)
        return inner(request) if inner else server.default

    server.responder = noting
    return seen


# ------------------------------------------------------------------ the request
def test_request_model_image_schema_and_key(server, key, png):
    server.responder = lambda r: Completion(_verdicts(True, False, False), prompt_tokens=1000, completion_tokens=200)
    sent = bearers(server)
    verdict = make(server, key).judge(png, REQS)

    (req,) = server.chat_requests
    body = req.json
    assert body["model"] == "gpt-4.1"
    assert body["temperature"] == 0
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    rules = system["content"].lower()
    # the picture is untrusted: its text is part of the drawing, never an instruction or a fulfilment
    assert "untrusted" in rules and "never an instruction" in rules and "never fulfilled by text" in rules
    content = user["content"]
    text = next(c["text"] for c in content if c["type"] == "text")
    url = next(c["image_url"]["url"] for c in content if c["type"] == "image_url")
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png
    for i, r in enumerate(REQS):
        assert f"{i + 1}. {r}" in text
    assert "strict" in text.lower()
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["transcription", "verdicts", "summary"]
    assert schema["properties"]["verdicts"]["items"]["required"] == ["index", "reason", "only_written", "fulfilled"]
    assert sent == [key] and req.headers["authorization"] == "***"
    assert key not in json.dumps(body)

    assert verdict.valid and verdict.itemised
    assert [i.fulfilled for i in verdict.items] == [True, False, False]
    assert verdict.items[0].reason == "looked at 1" and verdict.items[2].text == REQS[2]
    assert (verdict.fulfilled, verdict.total, verdict.score) == (1, 3, pytest.approx(1 / 3))
    assert (verdict.input_tokens, verdict.output_tokens) == (1000, 200)
    inp, out = PRICES["gpt-4.1"]
    assert verdict.cost_usd == pytest.approx((1000 * inp + 200 * out) / 1e6)
    assert verdict.judge == "vision:gpt-4.1" and not verdict.cached and verdict.attempts == 1


def test_model_and_base_url_configurable(server, key, png):
    settings = get_settings({"OPENAI_API_KEY": key, "SVGKIT_JUDGE_BASE_URL": server.base_url,
                             "SVGKIT_JUDGE_MODEL": "accounts/fireworks/models/some-vl"}, read_dotenv=False)
    server.push(Completion(_verdicts(True, True, True)))
    v = VisionJudge(settings=settings, cache=None).judge(png, REQS)
    assert server.chat_requests[0].json["model"] == "accounts/fireworks/models/some-vl"
    assert v.cost_usd is None  # no price in config: unknown, not zero
    assert token_cost("gpt-4.1", 1_000_000, 0) == PRICES["gpt-4.1"][0]


def test_missing_key_is_a_clear_error(server):
    settings = get_settings({"SVGKIT_JUDGE_BASE_URL": server.base_url}, read_dotenv=False)
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        VisionJudge(settings=settings)


# ------------------------------------------------------------------ upstream compatibility
def _upstream_module():
    import eval_protocol

    folder = Path(eval_protocol.__file__).parent / "quickstart" / "svg_agent" / "evaluator"
    saved_utils = sys.modules.pop("utils", None)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("_upstream_svgagent", folder / "test_svgagent.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("utils", None)
        if saved_utils is not None:
            sys.modules["utils"] = saved_utils
    return module


def test_upstream_mode_sends_exactly_upstreams_request(server, key, png, tmp_path, monkeypatch):
    upstream = _upstream_module()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_BASE", server.base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    image = tmp_path / "judged.png"
    image.write_bytes(png)
    answer = {"reasoning": "two of three", "number_of_fulfilled_requirements": 2}
    server.push(Completion(answer))
    result = asyncio.run(upstream.evaluate_with_llm_judge(str(image), REQS))
    assert result["number_of_fulfilled_requirements"] == 2

    server.push(Completion(answer))
    ours = make(server, key, mode="upstream").judge(png, REQS)
    theirs_req, ours_req = server.chat_requests
    keys = ("model", "messages", "temperature", "response_format")
    assert {k: ours_req.json[k] for k in keys} == {k: theirs_req.json[k] for k in keys}
    assert set(ours_req.json) <= set(theirs_req.json) | {"stream"}
    assert ours.valid and ours.fulfilled == 2 and ours.total == 3 and not ours.items
    assert ours.reasoning == "two of three" and ours.judge == "vision-upstream:gpt-4.1"


def test_upstream_mode_count_is_clamped(server, key, png):
    server.push(Completion({"reasoning": "all and more", "number_of_fulfilled_requirements": 99}))
    v = make(server, key, mode="upstream").judge(png, REQS)
    assert v.valid and v.fulfilled == 3 and v.score == 1.0


def test_upstream_mode_missing_count_is_invalid(server, key, png):
    server.push(Completion({"reasoning": "hmm"}))
    v = make(server, key, mode="upstream").judge(png, REQS)
    assert not v.valid and "number_of_fulfilled_requirements" in v.error and v.score == 0


@pytest.mark.parametrize("count", ["NaN", "Infinity", "-Infinity", "1e999", '"2"', "null", "[2]", "2.5", "true"])
def test_upstream_mode_unusable_count_is_an_invalid_paid_verdict(server, key, png, count):
    # json.loads reads NaN, Infinity and 1e999 (inf) as floats: they must not raise out of ajudge
    server.push(Completion(f'{{"reasoning": "x", "number_of_fulfilled_requirements": {count}}}',
                                 prompt_tokens=700, completion_tokens=30))
    judge = make(server, key, mode="upstream", retry=fast(0))
    v = judge.judge(png, REQS)
    assert not v.valid and "number_of_fulfilled_requirements" in v.error and v.score == 0
    assert (v.input_tokens, v.output_tokens, v.attempts) == (700, 30, 1)
    u = judge.usage
    assert (u.calls, u.failures, u.input_tokens, u.output_tokens) == (1, 1, 700, 30)
    assert u.cost_usd == pytest.approx(token_cost("gpt-4.1", 700, 30))


def test_upstream_mode_accepts_an_integral_float_count(server, key, png):
    server.push(Completion('{"reasoning": "x", "number_of_fulfilled_requirements": 2.0}'))
    v = make(server, key, mode="upstream").judge(png, REQS)
    assert v.valid and v.fulfilled == 2


# ------------------------------------------------------------------ retries and failures
def test_429_then_500_then_success_is_retried(server, key, png):
    server.push(Response.error(429), Response.error(500), Completion(_verdicts(True, True, False)))
    v = make(server, key).judge(png, REQS)
    assert v.valid and v.fulfilled == 2 and v.attempts == 3
    assert len(server.chat_requests) == 3


def test_retries_are_bounded_in_count(server, key, png):
    server.push(*[Response.error(503, "overloaded")] * 10)
    v = make(server, key, retry=fast(2)).judge(png, REQS)
    assert not v.valid and v.error == "HTTP 503: overloaded (gave up after 3 attempts)"
    assert len(server.chat_requests) == 3 and v.score == 0


def test_retries_are_bounded_in_time(server, key, png):
    server.push(*[Response.error(429, headers={"retry-after": "30"})] * 5)
    start = time.monotonic()
    v = make(server, key, retry=fast(4, max_delay_s=30, total_s=0.5)).judge(png, REQS)
    assert time.monotonic() - start < 3
    assert not v.valid and "the 0.5 s deadline of this call leaves no time for another" in v.error
    assert len(server.chat_requests) == 1


def test_backoff_is_exponential_with_jitter(server, key, png):
    server.push(Response.error(500), Response.error(500), Response.error(500), Completion(_verdicts(1, 1, 1)))
    make(server, key, retry=fast(3, base_delay_s=0.2, max_delay_s=5, jitter=0.5)).judge(png, REQS)
    t = [r.received_at for r in server.chat_requests]
    gaps = [b - a for a, b in zip(t, t[1:], strict=False)]
    # waits of 0.2, 0.4, 0.8 s, each times a factor in [0.5, 1]
    assert 0.09 <= gaps[0] and 0.19 <= gaps[1] and 0.39 <= gaps[2]
    assert gaps[2] > gaps[0]


def test_timeout_is_retried_then_invalid(server, key, png):
    server.push(Response.hang(3), Response.hang(3))
    start = time.monotonic()
    v = make(server, key, request_timeout_s=0.3, retry=fast(1)).judge(png, REQS)
    assert time.monotonic() - start < 2.5
    assert not v.valid and "timed out" in v.error and len(server.chat_requests) == 2


def test_dropped_connection_is_retried(server, key, png):
    server.push(Response.dropped(), Completion(_verdicts(True, False, True)))
    v = make(server, key).judge(png, REQS)
    assert v.valid and v.fulfilled == 2 and len(server.chat_requests) == 2


def test_client_errors_are_not_retried(server, key, png):
    server.push(Response.error(400, "image too large"))
    v = make(server, key).judge(png, REQS)
    assert not v.valid and "400" in v.error and "image too large" in v.error
    assert len(server.chat_requests) == 1


def test_unauthorised_says_what_to_do(server, key, png):
    server.push(Response.error(401, "invalid api key"))
    v = make(server, key).judge(png, REQS)
    assert not v.valid and "401" in v.error and "OPENAI_API_KEY" in v.error and key not in v.error


@pytest.mark.parametrize(("reply", "fragment"), [
    (Completion("I think about 2 of them are there."), "not JSON"),
    (Completion(""), "empty"),
    (Completion(None, refusal="I can't help with that."), "refused"),
    (Completion(_verdicts(True, True)), "skipped requirement(s) 3"),
    (Completion({"verdicts": [{"index": 1, "reason": "", "fulfilled": "yes"}], "summary": ""}),
     "true/false"),
    (Completion({"verdicts": [{"index": 7, "reason": "", "fulfilled": True}], "summary": ""}),
     "between 1 and 3"),
    (Completion('{"verdicts": [', finish_reason="length"), "cut off"),
    (Completion([1, 2, 3]), "not a JSON object"),
])
def test_unusable_answers_are_invalid_with_reason(server, key, png, reply, fragment):
    server.push(reply)
    v = make(server, key).judge(png, REQS)
    assert not v.valid and fragment in v.error
    assert v.score == 0 and v.fulfilled == 0 and v.total == 3
    assert len(server.chat_requests) == 1  # not retried: the same question gets the same answer


def test_fenced_json_answer_is_accepted(server, key, png):
    server.push(Completion("```json\n" + json.dumps(_verdicts(True, True, True)) + "\n```"))
    assert make(server, key).judge(png, REQS).fulfilled == 3


# ------------------------------------------------------------------ concurrency, cache, usage
def test_concurrency_limit(server, key, png):
    delay = 0.3
    server.responder = lambda req: Completion(_verdicts(True, True, True), delay_s=delay)
    judge = make(server, key, concurrency=2)
    jobs = [(png, [f"requirement {i}", "b", "c"]) for i in range(6)]
    verdicts = judge.judge_many(jobs)
    assert all(v.valid for v in verdicts)
    times = sorted(r.received_at for r in server.chat_requests)
    assert len(times) == 6
    overlap = max(sum(1 for u in times if t <= u < t + delay * 0.8) for t in times)
    assert overlap <= 2
    assert times[-1] - times[0] >= 2 * delay * 0.9


def test_cache_makes_a_rerun_free(server, key, png, tmp_path):
    cache = JudgeCache(tmp_path / "verdicts.sqlite")
    server.responder = lambda req: Completion(_verdicts(True, False, True), prompt_tokens=500)
    judge = make(server, key, cache=cache)
    first = judge.judge(png, REQS)
    again = make(server, key, cache=tmp_path / "verdicts.sqlite").judge(png, REQS)
    assert len(server.chat_requests) == 1
    assert again.cached and not first.cached
    assert again.items == first.items and again.input_tokens == 0 and again.cost_usd == 0
    # anything in the key changing means a new call
    make(server, key, cache=cache).judge(png, REQS[:2])  # 3 verdicts for 2 requirements: invalid
    make(server, key, cache=cache, prompt_version="v-next").judge(png, REQS)
    make(server, key, cache=cache, mode="upstream").judge(png, REQS)  # answer unusable: not cached
    other_png = render_png(SVG.replace("red", "green")).png
    make(server, key, cache=cache).judge(other_png, REQS)
    assert len(server.chat_requests) == 5
    assert len(cache) == 3


def test_invalid_verdicts_are_not_cached(server, key, png, tmp_path):
    server.push(Response.error(400), Completion(_verdicts(True, True, True)))
    judge = make(server, key, cache=tmp_path / "c.sqlite")
    assert not judge.judge(png, REQS).valid
    assert judge.judge(png, REQS).valid
    assert len(server.chat_requests) == 2


def test_usage_totals(server, key, png, tmp_path):
    server.responder = lambda req: Completion(_verdicts(True, True, True), prompt_tokens=100, completion_tokens=10)
    judge = make(server, key, cache=tmp_path / "c.sqlite")
    judge.judge(png, REQS)
    judge.judge(png, REQS)
    u = judge.usage
    assert (u.verdicts, u.calls, u.cache_hits, u.input_tokens, u.output_tokens) == (2, 1, 1, 100, 10)
    assert u.cost_usd == pytest.approx(token_cost("gpt-4.1", 100, 10))


def test_default_cache_location_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("SVGKIT_JUDGE_CACHE", str(tmp_path / "elsewhere.sqlite"))
    assert JudgeCache().path == tmp_path / "elsewhere.sqlite"
    monkeypatch.delenv("SVGKIT_JUDGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert str(JudgeCache().path).startswith(str(tmp_path / "xdg"))


def test_sync_call_works_inside_a_running_loop(server, key, png):
    server.push(Completion(_verdicts(True, True, True)))
    judge = make(server, key)

    async def notebook_cell():
        return judge.judge(png, REQS)

    assert asyncio.run(notebook_cell()).fulfilled == 3


def test_interrupting_a_sync_call_in_a_running_loop_stops_paid_calls(server, key, png):
    """Jupyter's stop button: KeyboardInterrupt in the caller cancels the judging, no more calls go out."""
    received = itertools.count(1)

    def slow(request):
        if next(received) == 2:  # the caller is waiting in judge_many: interrupt it now
            _thread.interrupt_main()
        time.sleep(0.2)
        return Completion(_verdicts(True, True, True))

    server.responder = slow
    judge = make(server, key, concurrency=1)

    async def notebook_cell():  # a loop without asyncio's SIGINT handler, as in Jupyter
        with pytest.raises(KeyboardInterrupt):
            judge.judge_many([(png, REQS)] * 20)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(notebook_cell())
    finally:
        loop.close()
    assert server.wait_idle()
    sent = len(server.chat_requests)
    time.sleep(1.0)  # long enough for several more calls if the work were still running
    assert len(server.chat_requests) == sent <= 3
    assert not any(t.name == "svgkit-run-sync" and t.is_alive() for t in threading.enumerate())


# ------------------------------------------------------------------ the key never leaks
def test_key_never_in_logs_reprs_or_errors(server, key, png, caplog):
    caplog.set_level(logging.DEBUG)
    server.push(Response.error(429), Response.error(500, f"echoing {key}"), Response.error(401, f"bad key {key}"),
                Completion(_verdicts(True, False, True)))
    judge = make(server, key, retry=fast(3))
    failed = judge.judge(png, REQS)
    ok = judge.judge(png, REQS)
    assert not failed.valid and ok.valid
    assert key not in failed.error and "***" in failed.error
    assert key not in caplog.text
    assert key not in repr(judge) and key not in str(judge.__dict__.get("_key"))
    assert key not in json.dumps(failed.to_dict()) + json.dumps(ok.to_dict())
    assert "retry 2/3" in caplog.text  # retries were logged, just not the key


# ------------------------------------------------------------------ HTTP faults (the stand-in's scripts)
def test_a_trickling_answer_ends_at_the_request_deadline_as_an_invalid_verdict(server, key, png):
    """One byte per second: each read is quick, so only a wall-clock deadline per call bounds it."""
    server.push(lambda r: Response.trickle(Completion(_verdicts(True, True, True))(r), seconds_per_byte=1.0))
    started = time.monotonic()
    v = make(server, key, request_timeout_s=2.0, retry=fast(0)).judge(png, REQS)
    took = time.monotonic() - started
    assert took < 2.0 + 2.0  # measured: about 2.0 s
    assert not v.valid and v.error == "timed out after 2 s" and v.attempts == 1 and v.score == 0
    assert server.wait_idle()  # the connection was closed: the trickle's next byte failed


def test_a_hung_server_costs_one_deadline_per_attempt(server, key, png):
    server.push(Response.hang(), Response.hang())
    started = time.monotonic()
    v = make(server, key, request_timeout_s=1.0, retry=fast(1)).judge(png, REQS)
    assert time.monotonic() - started < 2 * 1.0 + 2.0  # measured: about 2.0 s
    assert not v.valid and v.error == "timed out after 1 s (gave up after 2 attempts)"


def test_a_dead_endpoint_gives_invalid_verdicts_each_within_its_deadline(server, key, png):
    server.responder = lambda r: Response.hang()
    started = time.monotonic()
    verdicts = make(server, key, request_timeout_s=0.5, retry=fast(2, total_s=1.2), concurrency=4).judge_many(
        [(png, [f"requirement {i}", "b"]) for i in range(4)])
    took = time.monotonic() - started
    assert took < 1.2 + 2.0  # measured: about 1.2 s for all four, judged side by side
    assert all(not v.valid and v.score == 0 for v in verdicts)
    assert all(v.error == "timed out at the 1.2 s deadline of this call (gave up after 3 attempts)" for v in verdicts)


def test_a_200_with_html_is_an_invalid_verdict(server, key, png):
    server.push(Response.text("<html><body>Bad gateway</body></html>"))
    v = make(server, key).judge(png, REQS)
    assert not v.valid and v.score == 0 and v.attempts == 1
    assert v.error == "HTTP 200 with a body that is not JSON (text/html): '<html><body>Bad gateway</body></html>'"


@pytest.mark.parametrize(("payload", "reason"), [
    ({"choices": "nope"}, "'choices' is not a non-empty list (got 'nope')"),
    ({"choices": [{"finish_reason": "stop"}]}, "choices[0] has no 'message' object"),
    ({"choices": [{"message": None}]}, "choices[0] has no 'message' object"),
    ({"choices": [{"message": {"content": 3}}]}, "content is a JSON int, not a string"),
    ({"choices": [{"message": {"content": {"verdicts": []}}}]}, "content is a JSON dict, not a string"),
])
def test_a_200_with_json_of_the_wrong_shape_is_an_invalid_verdict(server, key, png, payload, reason):
    server.push(Response.json(payload))
    v = make(server, key).judge(png, REQS)  # never raises
    assert not v.valid and reason in v.error and v.score == 0 and v.total == 3


def test_an_error_body_echoing_a_key_prefix_or_a_url_encoded_key_never_reaches_verdicts_or_logs(server, png,
                                                                                             caplog):
    key = "sk-Zq8x/Lm+3kP=9vT2wR7 judge"
    lower = lambda m: m.group().lower()  # noqa: E731 - %2B -> %2b
    caplog.set_level(logging.DEBUG)
    server.push(lambda r: Response.error(503, f"overloaded for {r.bearer[:10]}..."),
                lambda r: Response.error(500, f"see {quote(r.bearer, safe='')} / {quote_plus(r.bearer)}"),
                lambda r: Response.error(403, f"no access for {re.sub('%[0-9A-F]{2}', lower, quote(r.bearer))}"))
    v = make(server, key, retry=fast(3)).judge(png, REQS)
    assert not v.valid and v.error.startswith("HTTP 403: no access for ***")
    forms = {key[:n] for n in range(8, len(key) + 1)}
    forms |= {f(key[:n]) for n in range(8, len(key) + 1) for f in (quote, quote_plus)}
    forms |= {quote(key[:n], safe="") for n in range(8, len(key) + 1)}
    forms |= {re.sub("%[0-9A-F]{2}", lower, f) for f in forms}
    for text in (v.error, json.dumps(v.to_dict()), caplog.text):
        assert [f for f in forms if f in text] == []
