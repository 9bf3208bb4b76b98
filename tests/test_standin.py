"""The stand-in machinery: routes, scripted faults and request records, through real clients."""

import json
import time

import httpx
import openai
import pytest

from svgkit.standin import ChatStandin, Completion, Response, StandinServer


@pytest.fixture
def server(standin):
    return standin


def test_routes_answer_with_their_params_and_unknown_paths_are_404(server):
    server.add_route("GET", r"/v1/things/(?P<id>[^/]+)", lambda r: Response.json({"id": r.params["id"]}))
    assert httpx.get(f"{server.url}/v1/things/abc").json() == {"id": "abc"}
    missing = httpx.get(f"{server.url}/v1/other")
    assert missing.status_code == 404 and "does not speak GET /v1/other" in missing.json()["error"]["message"]
    assert httpx.post(f"{server.url}/v1/things/abc").status_code == 405


def test_scripted_faults_come_first_and_only_for_their_route(server):
    server.add_route("GET", r"/a", lambda r: Response.json({"route": "a"}))
    server.add_route("GET", r"/b", lambda r: Response.json({"route": "b"}))
    server.push(Response.error(503, "busy"), path=r"/a")
    assert httpx.get(f"{server.url}/b").json() == {"route": "b"}
    assert httpx.get(f"{server.url}/a").status_code == 503
    assert httpx.get(f"{server.url}/a").json() == {"route": "a"}
    assert server.pending == 0
    assert [r.status for r in server.requests] == [200, 503, 200]


def test_a_trickle_outlasts_a_read_timeout():
    """Each byte arrives within the read timeout, so only a wall-clock deadline can bound such a call."""
    with StandinServer() as s:
        s.add_route("GET", r"/slow", lambda r: Response.trickle(Response.json([1, 2]), seconds_per_byte=0.4))
        start = time.monotonic()
        resp = httpx.get(f"{s.url}/slow", timeout=httpx.Timeout(5.0, read=1.0))
        assert resp.json() == [1, 2]
        assert time.monotonic() - start > 1.5  # six bytes, 0.4 s apart: longer than the read timeout


def test_hang_and_drop_reach_the_client_as_timeout_and_connection_error(server):
    server.add_route("GET", r"/x", lambda r: Response.json({}))
    server.push(Response.hang(5), Response.dropped())
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{server.url}/x", timeout=0.5)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{server.url}/x", timeout=2)


def test_a_truncated_answer_declares_its_length_and_stops_short(server):
    server.add_route("GET", r"/file", lambda r: Response.text(b"x" * 1000))
    server.push(Response.truncated(Response.text(b"y" * 1000), after_bytes=10))
    with pytest.raises(httpx.RemoteProtocolError):  # the connection closed before content-length bytes came
        httpx.get(f"{server.url}/file")
    assert httpx.get(f"{server.url}/file").content == b"x" * 1000  # only the next request was cut


def test_active_counts_answers_in_progress_until_the_client_goes_away(server):
    server.add_route("GET", r"/slow", lambda r: Response.trickle(Response.text(b"z" * 100), seconds_per_byte=0.2))
    assert server.active == 0
    with httpx.Client(base_url=server.url) as client, client.stream("GET", "/slow") as response:
        next(response.iter_bytes())
        assert server.active == 1
    assert server.wait_idle(5)  # the client closed its connection: the trickle's next write fails
    assert server.active == 0
    server.push(Response.hang(2))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{server.url}/slow", timeout=0.2)
    assert not server.wait_idle(0.3)  # a hang notices nothing until it answers


def test_records_never_hold_secret_values(server):
    server.add_secret("sk-very-secret-value")
    server.add_route("POST", r"/v1/secrets", lambda r: Response.json({"ok": True}))
    httpx.post(f"{server.url}/v1/secrets?key=sk-very-secret-value",
               headers={"Authorization": "Bearer sk-other-key", "x-api-key": "sk-third"},
               json={"value": "sk-very-secret-value", "name": "OPENAI_API_KEY"})
    rec = server.requests[-1]
    dump = json.dumps({"path": rec.path, "headers": rec.headers, "body": rec.body.decode()})
    for secret in ("sk-very-secret-value", "sk-other-key", "sk-third"):
        assert secret not in dump
    assert rec.json == {"value": "***", "name": "OPENAI_API_KEY"}


def test_a_handler_error_is_a_500_that_names_it_without_secrets(server):
    server.add_secret("sk-leaky")

    def broken(request):
        raise RuntimeError("boom with sk-leaky inside")

    server.add_route("GET", r"/boom", broken)
    resp = httpx.get(f"{server.url}/boom")
    assert resp.status_code == 500
    assert "RuntimeError" in resp.text and "sk-leaky" not in resp.text


def test_chat_standin_speaks_to_the_openai_client_plain_and_streamed():
    with ChatStandin() as chat:
        chat.push(Completion({"ok": True}, prompt_tokens=7, completion_tokens=3), Completion("streamed text"))
        client = openai.OpenAI(base_url=chat.base_url, api_key="sk-test", max_retries=0)
        first = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}])
        assert json.loads(first.choices[0].message.content) == {"ok": True}
        assert (first.model, first.usage.prompt_tokens, first.usage.completion_tokens) == ("m1", 7, 3)
        stream = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}],
                                                stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "streamed text"
        with pytest.raises(openai.InternalServerError):  # nothing scripted: fails loudly
            client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}])
        assert [r.json["model"] for r in chat.chat_requests] == ["m1", "m1", "m1"]
        assert all(r.headers["authorization"] == "***" for r in chat.chat_requests)


def test_chat_standin_answers_under_any_path_prefix_from_its_responder():
    def echo(request):
        return Completion(f"you said {request.json()['messages'][-1]['content']}")

    with ChatStandin(responder=echo) as chat:
        client = openai.OpenAI(base_url=f"{chat.url}/rollout_id/r-1/v1", api_key="k", max_retries=0)
        out = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "draw"}])
        assert out.choices[0].message.content == "you said draw"
        assert chat.chat_requests[-1].path == "/rollout_id/r-1/v1/chat/completions"
