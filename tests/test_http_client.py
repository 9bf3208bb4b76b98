"""svgkit.http_client: key scrubbing, retry policy, breaker, shape checks and deadlines (against svgkit.standin)."""

import asyncio
import json
import logging
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote, quote_plus

import httpx
import pytest

from svgkit.config import HTTP, Secret
from svgkit.http_client import (
    BadResponse,
    ChatClient,
    CircuitBreaker,
    RetryPolicy,
    parse_chat_completion,
    scrub_secrets,
    send_with_retries,
)
from svgkit.standin import Completion, Response

KEY = "sk-live/Ab+Cd=Ef Gh-1234567890"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
QUICK = RetryPolicy(max_retries=2, base_delay_s=0.001, max_delay_s=0.01)


# --------------------------------------------------------------------------- scrubbing
@pytest.mark.parametrize("form", [
    KEY,
    KEY[:8],
    KEY[:15] + " and then some",
    quote(KEY, safe=""),
    quote(KEY, safe="").lower(),
    quote(KEY),
    quote_plus(KEY),
    quote_plus(KEY[:10]),
])
def test_scrubbing_removes_the_key_its_prefixes_and_url_encoded_copies(form):
    text = f"server said: invalid key '{form}' (see docs)"
    out = scrub_secrets(text, KEY)
    assert out.startswith("server said: invalid key '***") and out.endswith("' (see docs)")
    assert KEY[:8] not in out and quote(KEY[:8], safe="") not in out


def test_scrubbing_leaves_short_prefixes_other_text_and_tiny_secrets_alone():
    assert scrub_secrets(f"prefix {KEY[:7]} only", KEY) == f"prefix {KEY[:7]} only"  # under 8 characters
    assert scrub_secrets("nothing secret here", KEY, None) == "nothing secret here"
    assert scrub_secrets("ok k ok", "k") == "ok k ok"  # too short to be a key
    assert scrub_secrets(ValueError(f"boom {KEY}"), Secret(KEY)) == "boom ***"


def test_scrubbing_ignores_letter_case():
    assert scrub_secrets(f"echo {KEY.upper()} / {KEY.lower()[:9]}", KEY) == "echo *** / ***"


def test_scrubbing_handles_several_secrets_and_short_keys_whole():
    other = "fw-short"
    text = f"{KEY} / {other} / {quote('abc def')}"
    assert scrub_secrets(text, KEY, other, "abc def") == "*** / *** / ***"


# --------------------------------------------------------------------------- policy
def test_policy_defaults_come_from_config_once():
    policy = RetryPolicy()
    assert (policy.max_retries, policy.base_delay_s, policy.max_delay_s, policy.total_s, policy.jitter) == (
        HTTP.max_retries, HTTP.retry_base_delay_s, HTTP.retry_max_delay_s, HTTP.retry_total_s, HTTP.retry_jitter)
    assert [s for s in (400, 401, 403, 404, 408, 409, 422, 429, 500, 503, 599) if policy.retries(s)] == [
        408, 409, 429, 500, 503, 599]
    assert policy.fatal_statuses == {401, 403, 404}


def test_backoff_doubles_is_jittered_and_capped():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=5.0, jitter=0.5)
    rng = random.Random(7)
    waits = [[policy.wait_s(retry, rng=rng) for _ in range(200)] for retry in (1, 2, 3, 4)]
    for nominal, sample in zip((1.0, 2.0, 4.0, 5.0), waits, strict=True):
        assert nominal * 0.5 <= min(sample) and max(sample) <= nominal
        assert max(sample) - min(sample) > nominal * 0.3  # really jittered
    assert RetryPolicy(jitter=0.0, base_delay_s=1.0).wait_s(2) == 2.0


def test_retry_after_headers_win_over_backoff_but_are_capped():
    policy = RetryPolicy(base_delay_s=10.0, max_delay_s=30.0)
    assert policy.wait_s(1, {"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert policy.wait_s(1, {"retry-after": "2"}) == 2.0
    assert policy.wait_s(1, {"retry-after": "3600"}) == 30.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=12), usegmt=True)
    assert 9 <= policy.wait_s(1, {"retry-after": soon}) <= 12
    assert 5.0 <= policy.wait_s(1, {"retry-after": "soon-ish"}) <= 10.0  # unreadable: the backoff


@pytest.mark.parametrize("changes", [{"max_retries": -1}, {"total_s": 0}, {"jitter": 1.5}, {"base_delay_s": -1}])
def test_bad_policies_are_refused(changes):
    with pytest.raises(ValueError):
        RetryPolicy(**changes)


# --------------------------------------------------------------------------- breaker
def test_breaker_opens_after_consecutive_transient_failures_only(caplog):
    breaker = CircuitBreaker(3)
    breaker.record_failure("timed out", transient=True)
    breaker.record_failure("HTTP 503", transient=True)
    breaker.record_failure("HTTP 400: bad prompt", transient=False)  # an answer: the streak ends
    breaker.record_failure("timed out", transient=True)
    breaker.record_success()
    assert not breaker.is_open and breaker.consecutive == 0
    with caplog.at_level(logging.WARNING, logger="svgkit.http_client"):
        for _ in range(3):
            breaker.record_failure("HTTP 502: bad gateway", transient=True)
    assert breaker.is_open and "3 times in a row" in breaker.reason and "HTTP 502" in breaker.reason
    assert "circuit breaker open" in caplog.text
    breaker.trip("something else")
    assert "something else" not in breaker.reason  # the first reason stays
    with pytest.raises(ValueError):
        CircuitBreaker(0)


# --------------------------------------------------------------------------- shapes
def test_a_well_formed_completion_is_read_with_its_usage():
    body = json.dumps({"model": "m1", "choices": [{"message": {"content": "hi", "refusal": None},
                                                   "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": True, "total_tokens": "7"}}).encode()
    reply = parse_chat_completion(body, "application/json")
    assert (reply.content, reply.finish_reason, reply.model) == ("hi", "stop", "m1")
    assert (reply.prompt_tokens, reply.completion_tokens, reply.total_tokens) == (5, None, None)
    assert parse_chat_completion(b'{"choices": [{"message": {"content": null}}]}').content is None


@pytest.mark.parametrize(("body", "reason"), [
    (b"<html>oops</html>", "not JSON (text/html): '<html>oops</html>'"),
    (b"", "not JSON"),
    (b'"just a string"', "JSON str, not an object"),
    (b'{"choices": {"0": {}}}', "'choices' is not a non-empty list"),
    (b'{"choices": [null]}', "choices[0] is not an object"),
    (b'{"choices": [{"message": "hello"}]}', "no 'message' object"),
    (b'{"choices": [{"message": {"content": {"text": "x"}}}]}', "content is a JSON dict"),
])
def test_anything_else_is_a_bad_response_with_the_reason(body, reason):
    with pytest.raises(BadResponse, match=None) as info:
        parse_chat_completion(body, "text/html")
    assert reason in str(info.value)


# --------------------------------------------------------------------------- calls against the stand-in
def test_a_plain_httpx_call_gets_the_same_rules(standin):
    standin.add_route("GET", r"/v1/things", lambda r: Response.json({"n": 1}))
    standin.push(Response.error(503, "busy"), Response.error(429, headers={"retry-after-ms": "20"}))

    async def main():
        async with httpx.AsyncClient(base_url=standin.url) as client:
            async def attempt():
                response = await client.get("/v1/things")
                response.raise_for_status()
                return response.json()

            return await send_with_retries(attempt, timeout_s=5, policy=QUICK)

    outcome = asyncio.run(main())
    assert outcome.ok and outcome.value == {"n": 1} and outcome.attempts == 3


def test_a_fatal_status_trips_a_shared_breaker_and_the_next_call_is_not_sent(chat_standin):
    chat_standin.push(Response.error(401, f"invalid key {KEY[:10]}"))
    breaker = CircuitBreaker(5)

    async def main():
        async with ChatClient(base_url=chat_standin.base_url, api_key=KEY, timeout_s=5, policy=QUICK,
                              breaker=breaker) as client:
            return await client.complete(BODY), await client.complete(BODY)

    first, second = asyncio.run(main())
    assert first.error == "HTTP 401: invalid key ***" and first.status == 401 and first.attempts == 1
    assert second.error == "not sent: an earlier request failed with HTTP 401: invalid key ***"
    assert second.attempts == 0 and second.latency_s is None
    assert len(chat_standin.chat_requests) == 1


def test_the_limiter_is_held_during_attempts_not_during_waits(chat_standin):
    chat_standin.push(Response.error(429, headers={"retry-after": "0.3"}), Completion("b"), Completion("a"))
    order: list[str] = []

    async def main():
        limiter = asyncio.Semaphore(1)
        policy = RetryPolicy(max_retries=1, max_delay_s=1.0)
        async with ChatClient(base_url=chat_standin.base_url, api_key=KEY, timeout_s=5, policy=policy) as client:
            async def call(name, delay):
                await asyncio.sleep(delay)
                outcome = await client.complete({**BODY, "user": name}, limiter=limiter)
                order.append(name)
                return outcome

            return await asyncio.gather(call("a", 0), call("b", 0.1))

    a, b = asyncio.run(main())
    assert a.ok and b.ok and a.attempts == 2
    assert order == ["b", "a"]  # b was sent while a waited out its Retry-After
    assert [r.json["user"] for r in chat_standin.chat_requests] == ["a", "b", "a"]


def test_the_total_budget_bounds_every_attempt_of_a_trickling_server(chat_standin):
    trickle = lambda r: Response.trickle(Completion("x" * 100)(r), seconds_per_byte=0.5)  # noqa: E731
    chat_standin.push(*[trickle] * 10)
    policy = RetryPolicy(max_retries=9, base_delay_s=0.01, max_delay_s=0.01, total_s=2.5)

    async def main():
        async with ChatClient(base_url=chat_standin.base_url, api_key=KEY, timeout_s=1.0, policy=policy) as client:
            return await client.complete(BODY)

    started = time.monotonic()
    outcome = asyncio.run(main())
    took = time.monotonic() - started
    assert took < 2.5 + 2.0  # measured: about 2.5 s
    assert not outcome.ok and outcome.attempts == 3
    assert outcome.error == "timed out at the 2.5 s deadline of this call (gave up after 3 attempts)"
    assert chat_standin.wait_idle()  # every abandoned trickle saw its connection closed


def test_cancelling_the_caller_closes_the_connection(chat_standin):
    chat_standin.push(lambda r: Response.trickle(Completion("x" * 100)(r), seconds_per_byte=0.3))

    async def main():
        async with ChatClient(base_url=chat_standin.base_url, api_key=KEY, timeout_s=60) as client:
            task = asyncio.create_task(client.complete(BODY))
            await asyncio.sleep(1.0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert chat_standin.wait_idle()


def test_chat_client_refuses_streaming_and_bodies_without_model(chat_standin):
    client = ChatClient(base_url=chat_standin.base_url, api_key=None, timeout_s=1)
    with pytest.raises(ValueError, match="stream"):
        asyncio.run(client.complete({**BODY, "stream": True}))
    with pytest.raises(ValueError, match="model"):
        asyncio.run(client.complete({"messages": []}))
    with pytest.raises(ValueError, match="timeout_s"):
        ChatClient(base_url=chat_standin.base_url, api_key=None, timeout_s=0)
    assert "sk-" not in repr(ChatClient(base_url=chat_standin.base_url, api_key=KEY, timeout_s=1))


def test_a_fresh_process_does_not_charge_openais_lazy_imports_to_the_first_request(chat_standin):
    """openai imports its resources on the first ``client.chat`` (seconds on a busy machine): not request time."""
    chat_standin.default = Completion("fine")
    script = (
        "import asyncio, sys\n"
        "from svgkit.http_client import ChatClient, RetryPolicy\n"
        "async def main():\n"
        "    async with ChatClient(base_url=sys.argv[1], api_key='k-12345678', timeout_s=1.0,\n"
        "                          policy=RetryPolicy(max_retries=0)) as client:\n"
        "        out = await client.complete({'model': 'm', 'messages': [{'role': 'user', 'content': 'hi'}]})\n"
        "    print(out.error or out.value.content)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, chat_standin.base_url], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "fine"
