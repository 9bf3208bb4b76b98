"""svgkit.rollout_server against the stand-in gateway and model, through httpx and eval-protocol's processor."""

import asyncio
import json
import logging
import time

import httpx
import pytest
from eval_protocol.dataset_logger.dataset_logger import DatasetLogger
from eval_protocol.models import EvaluationRow, ExecutionMetadata, InputMetadata, Message, Status
from eval_protocol.pytest import RemoteRolloutProcessor
from eval_protocol.pytest.evaluation_test_utils import rollout_processor_with_retry
from eval_protocol.pytest.exception_config import BackoffConfig, ExceptionHandlerConfig
from eval_protocol.pytest.types import RolloutProcessorConfig

from svgkit.rollout_server import ServerOptions, build_model_call, serve_in_thread, start_server_process
from svgkit.standin import Completion, GatewayStandin, Response
from svgkit.svg import extract_svg

FAKE_KEY = "fw-test-key-not-real-8f3a91c2"
Code = Status.Code


def _svg_answer(i: int) -> str:
    return (f"Here is drawing {i}.\n\n```svg\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"40\">"
            f"<rect width=\"40\" height=\"40\" fill=\"#{i:06x}\"/><title>row-{i}</title></svg>\n```")


def _init_payload(rollout_id: str, model_base_url: str, *, row_id: str | None = None,
                  completion_params: dict | None = None, api_key: str | None = FAKE_KEY) -> dict:
    ids = {"invocation_id": "inv-1", "experiment_id": "exp-1", "rollout_id": rollout_id, "run_id": "run-1",
           "row_id": row_id or f"row-{rollout_id}"}
    path = "".join(f"/{k}/{ids[k]}" for k in ("rollout_id", "invocation_id", "experiment_id", "run_id", "row_id"))
    return {"completion_params": completion_params or {"model": "fireworks_ai/accounts/fireworks/models/m",
                                                       "temperature": 0.5},
            "messages": [{"role": "user", "content": f"draw {rollout_id}"}],
            "model_base_url": model_base_url + path, "metadata": ids, "api_key": api_key}


def _wait_for_status(gateway: GatewayStandin, rollout_id: str, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entry = gateway.status(rollout_id)
        if entry is not None:
            return entry
        time.sleep(0.02)
    raise AssertionError(f"no status for {rollout_id} within {timeout_s} s")


@pytest.fixture
def stack():
    """A gateway stand-in (which checks the key) and a server wired to it, fast timeouts."""
    with GatewayStandin(require_key=FAKE_KEY) as gateway:
        options = ServerOptions(gateway_url=gateway.gateway_url, model_timeout_s=1.0, model_max_retries=0,
                                rollout_deadline_s=5.0)
        with serve_in_thread(options) as server:
            yield gateway, server


# --------------------------------------------------------------------------- the model call
def test_model_call_forwards_sampling_params_strips_the_prefix_and_drops_transport_keys():
    params = {"model": "fireworks_ai/accounts/fireworks/models/qwen3-0p6b", "temperature": 0.8, "max_tokens": 4096,
              "top_p": 0.9, "n": 1, "stop": ["</svg>"], "seed": 7, "reasoning_effort": "low", "top_k": 40,
              "min_p": 0.05, "extra_body": {"repetition_penalty": 1.1, "top_k": 50}, "api_key": FAKE_KEY,
              "api_base": "https://x", "num_retries": 3, "stream": True, "drop_params": True}
    call = build_model_call(params, [Message(role="system", content="be brief"), {"role": "user", "content": "hi"}])
    assert call.model == "accounts/fireworks/models/qwen3-0p6b"
    assert call.messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert {k: call.kwargs[k] for k in ("temperature", "max_tokens", "top_p", "n", "stop", "seed",
                                        "reasoning_effort")} == {
        "temperature": 0.8, "max_tokens": 4096, "top_p": 0.9, "n": 1, "stop": ["</svg>"], "seed": 7,
        "reasoning_effort": "low"}
    assert call.kwargs["extra_body"] == {"top_k": 50, "min_p": 0.05, "repetition_penalty": 1.1}  # explicit wins
    assert call.moved == ("min_p", "top_k")
    assert call.dropped == ("api_base", "api_key", "drop_params", "num_retries", "stream")
    assert FAKE_KEY not in json.dumps(call.kwargs)
    for bad, match in (({"temperature": 1}, "model is missing"), ({"model": "m", "extra_body": [1]}, "extra_body")):
        with pytest.raises(ValueError, match=match):
            build_model_call(bad, [{"role": "user", "content": "hi"}])
    with pytest.raises(ValueError, match="messages is empty"):
        build_model_call({"model": "m"}, [])


def test_the_model_receives_every_param_and_extra_body_and_the_callers_key(stack):
    gateway, server = stack
    gateway.set_answer("row-p", _svg_answer(1))
    params = {"model": "fireworks_ai/accounts/fireworks/models/m", "temperature": 0.3, "max_tokens": 77,
              "top_k": 5, "extra_body": {"reasoning_effort": "medium", "prompt_cache_max_len": 0}}
    resp = httpx.post(f"{server.url}/init", json=_init_payload("p", gateway.model_base_url, row_id="row-p",
                                                                completion_params=params))
    assert resp.status_code == 200 and resp.json() == {"status": "accepted", "rollout_id": "p"}
    entry = _wait_for_status(gateway, "p")
    assert entry.status["code"] == Code.FINISHED  # the stand-in answers 401 to any other key
    sent = gateway.chat_requests[-1].json
    assert sent == {"model": "accounts/fireworks/models/m", "messages": [{"role": "user", "content": "draw p"}],
                    "temperature": 0.3, "max_tokens": 77, "top_k": 5, "reasoning_effort": "medium",
                    "prompt_cache_max_len": 0}
    assert entry.extras["svg_found"] is True and entry.extras["answer_chars"] == len(_svg_answer(1))
    assert entry.extras["moved_to_extra_body"] == ["top_k"]
    assert [t.ids["row_id"] for t in gateway.traces("p")] == ["row-p"]


# --------------------------------------------------------------------------- /init and GET /
def test_health_check_reports_the_load(stack):
    gateway, server = stack
    body = httpx.get(f"{server.url}/").json()
    assert body["status"] == "ok" and body["service"] == "svgkit-rollout-server"
    assert (body["running"], body["queued"], body["capacity"]) == (0, 0, server.rollout_server.options.capacity)


@pytest.mark.parametrize("change, status, needle", [
    (lambda p: "not json", 400, "not JSON"),
    (lambda p: {**p, "metadata": {"rollout_id": "x"}}, 400, "metadata.invocation_id"),
    (lambda p: {**p, "model_base_url": "http://169.254.169.254/latest"}, 400, "not allowed"),
    (lambda p: {**p, "model_base_url": "file:///etc/passwd"}, 400, "http(s)"),
    (lambda p: {**p, "model_base_url": None}, 400, "model_base_url is missing"),
    (lambda p: {**p, "completion_params": {"temperature": 1}}, 400, "model is missing"),
    (lambda p: {**p, "messages": []}, 400, "messages is empty"),
    (lambda p: {**p, "messages": 5}, 400, "messages"),
])
def test_init_refuses_what_it_can_never_run_without_echoing_the_key(stack, change, status, needle):
    gateway, server = stack
    payload = change(_init_payload("bad", gateway.model_base_url))
    content = payload if isinstance(payload, str) else json.dumps(payload)
    resp = httpx.post(f"{server.url}/init", content=content, headers={"content-type": "application/json"})
    assert resp.status_code == status and needle in resp.json()["error"]["message"]
    assert FAKE_KEY not in resp.text
    assert gateway.chat_requests == [] and gateway.log_entries == []


def test_an_oversized_init_is_413(stack):
    gateway, server = stack
    payload = _init_payload("big", gateway.model_base_url)
    payload["messages"][0]["content"] = "x" * (server.rollout_server.options.max_init_bytes + 1)
    assert httpx.post(f"{server.url}/init", json=payload).status_code == 413


def test_init_is_idempotent_per_rollout_id(stack):
    gateway, server = stack
    gateway.set_answer("row-dup", Completion(_svg_answer(2), delay_s=0.3))
    payload = _init_payload("dup", gateway.model_base_url, row_id="row-dup")
    first = httpx.post(f"{server.url}/init", json=payload).json()
    again = httpx.post(f"{server.url}/init", json=payload).json()
    assert first["status"] == "accepted" and again == {"status": "duplicate", "rollout_id": "dup", "state": "running"}
    _wait_for_status(gateway, "dup")
    assert httpx.post(f"{server.url}/init", json=payload).json()["state"] == "done"
    assert len(gateway.chat_requests) == 1 and len(gateway.logs_for("dup")) == 1


def test_a_saturated_server_answers_503_with_retry_after_then_accepts_again():
    with GatewayStandin(default=Completion(_svg_answer(3), delay_s=2.0)) as gateway:
        options = ServerOptions(gateway_url=gateway.gateway_url, max_concurrency=1, max_queued=1, retry_after_s=1)
        with serve_in_thread(options) as server:
            codes = [httpx.post(f"{server.url}/init", json=_init_payload(f"s{i}", gateway.model_base_url,
                                                                         api_key=None)).status_code
                     for i in range(3)]
            assert codes == [200, 200, 503]
            busy = httpx.post(f"{server.url}/init", json=_init_payload("s2", gateway.model_base_url))
            assert busy.headers["retry-after"] == "1" and "saturated" in busy.json()["error"]["message"]
            health = httpx.get(f"{server.url}/").json()
            assert (health["running"], health["queued"], health["capacity"]) == (1, 1, 2)
            _wait_for_status(gateway, "s1")
            assert httpx.post(f"{server.url}/init", json=_init_payload("s2", gateway.model_base_url)).status_code == 200
            assert _wait_for_status(gateway, "s2").status["code"] == Code.FINISHED


# --------------------------------------------------------------------------- failures
@pytest.mark.parametrize("fault, code, words", [
    (Response.error(429, "slow down"), Code.RESOURCE_EXHAUSTED, "HTTP 429"),
    (Response.error(401, "bad key"), Code.PERMISSION_DENIED, "HTTP 401"),
    (Response.error(403, "forbidden"), Code.PERMISSION_DENIED, "HTTP 403"),
    (Response.error(404, "no such model"), Code.NOT_FOUND, "HTTP 404"),
    (Response.error(500, "boom"), Code.INTERNAL, "HTTP 500"),
    (Response.hang(10), Code.DEADLINE_EXCEEDED, "did not answer within 1 s"),
    (Response.dropped(), Code.INTERNAL, "could not reach the model"),
    (Response.text("<html>proxy error</html>"), Code.INTERNAL, "rollout failed"),
])
def test_each_model_fault_ends_in_its_status(stack, fault, code, words):
    gateway, server = stack
    gateway.set_answer("row-f", fault)
    assert httpx.post(f"{server.url}/init", json=_init_payload("f", gateway.model_base_url, row_id="row-f")).is_success
    entry = _wait_for_status(gateway, "f")
    assert entry.status["code"] == code and words in entry.status["message"]
    assert entry.extras["server"] == "svgkit-rollout-server" and entry.severity == "WARNING"


def test_shutdown_reports_unfinished_rollouts_unavailable():
    with GatewayStandin(default=Response.hang(20)) as gateway:
        server = serve_in_thread(ServerOptions(gateway_url=gateway.gateway_url, model_timeout_s=30))
        httpx.post(f"{server.url}/init", json=_init_payload("cut", gateway.model_base_url))
        time.sleep(0.3)
        server.stop()
        entry = gateway.status("cut")
        assert entry is not None and entry.status["code"] == Code.UNAVAILABLE


def test_options_come_from_the_environment_and_bad_values_say_which():
    opts = ServerOptions.from_env({"SVGKIT_ROLLOUT_MAX_CONCURRENCY": "7", "SVGKIT_ROLLOUT_MODEL_TIMEOUT_S": "2.5",
                                   "SVGKIT_ROLLOUT_ALLOWED_MODEL_HOSTS": "a.example, b.example"}, max_queued=3)
    assert (opts.max_concurrency, opts.model_timeout_s, opts.max_queued, opts.capacity) == (7, 2.5, 3, 10)
    assert opts.allowed_model_hosts == ("a.example", "b.example")
    with pytest.raises(ValueError, match="SVGKIT_ROLLOUT_MAX_QUEUED"):
        ServerOptions.from_env({"SVGKIT_ROLLOUT_MAX_QUEUED": "many"})
    with pytest.raises(ValueError, match="max_concurrency must be positive"):
        ServerOptions(max_concurrency=0)


# --------------------------------------------------------------------------- end to end
class _ListLogger(DatasetLogger):
    def __init__(self) -> None:
        self.rows: list[EvaluationRow] = []

    def log(self, row: EvaluationRow) -> None:
        self.rows.append(row)

    def read(self, row_id=None):
        return list(self.rows)


def _rows(n: int, prefix: str = "r") -> list[EvaluationRow]:
    return [EvaluationRow(messages=[Message(role="user", content=f"Draw square number {i}.")],
                          input_metadata=InputMetadata(row_id=f"{prefix}{i}", dataset_info={"i": i}),
                          execution_metadata=ExecutionMetadata(invocation_id="inv-e2e", experiment_id="exp-e2e",
                                                               rollout_id=f"rollout-{prefix}{i}", run_id="run-e2e"))
            for i in range(n)]


async def _process(rows: list[EvaluationRow], server_url: str, model_base_url: str) -> list[EvaluationRow]:
    processor = RemoteRolloutProcessor(remote_base_url=server_url, model_base_url=model_base_url,
                                       poll_interval=0.1, timeout_seconds=30)
    retry = ExceptionHandlerConfig(backoff_config=BackoffConfig(max_tries=2, base_delay=0.05, factor=1.0))
    config = RolloutProcessorConfig(completion_params={"model": "accounts/fireworks/models/qwen3-0p6b",
                                                       "temperature": 0.8, "max_tokens": 512,
                                                       "extra_body": {"reasoning_effort": "low"}},
                                    mcp_config_path="", semaphore=asyncio.Semaphore(len(rows)),
                                    logger=_ListLogger(), exception_handler_config=retry)
    try:
        return [row async for row in rollout_processor_with_retry(processor, rows, config, disable_tqdm=True)]
    finally:
        await processor.acleanup()


def test_end_to_end_50_rollouts_at_once_none_lost_faults_get_their_status_and_no_key_leaks(
        monkeypatch, caplog):
    """RemoteRolloutProcessor -> server -> stand-in gateway and model, 50 good rollouts and 3 faulted ones."""
    monkeypatch.setenv("EP_REMOTE_API_KEY", FAKE_KEY)  # what the processor sends as the caller's key
    caplog.set_level(logging.DEBUG)
    good = _rows(50)
    faulted = dict(zip(("rate", "error", "hang"), _rows(3, prefix="f"), strict=True))
    answers = {row.input_metadata.row_id: Completion(_svg_answer(i), delay_s=0.5) for i, row in enumerate(good)}
    answers.update({"f0": Response.error(429), "f1": Response.error(500), "f2": Response.hang(10)})
    with GatewayStandin(answers=answers, require_key=FAKE_KEY) as gateway:
        options = ServerOptions(gateway_url=gateway.gateway_url, model_timeout_s=1.5, model_max_retries=0)
        with serve_in_thread(options) as server:
            start = time.monotonic()
            out = asyncio.run(_process(good + list(faulted.values()), server.url, gateway.model_base_url))
            seconds = time.monotonic() - start
            server_log = [r for r in caplog.records]

    by_row = {row.input_metadata.row_id: row for row in out}
    assert sorted(by_row) == sorted(r.input_metadata.row_id for r in good + list(faulted.values()))  # none lost
    for i, row in enumerate(good):
        done = by_row[row.input_metadata.row_id]
        assert done.rollout_status.code == Code.FINISHED
        assert [m.role for m in done.messages] == ["user", "assistant"]
        assert done.messages[-1].content == _svg_answer(i)  # its own answer, not a neighbour's
        assert extract_svg(done.messages[-1].content).svg is not None
        extra = done.execution_metadata.extra
        assert extra["svg_found"] is True and extra["answer_chars"] == len(_svg_answer(i))
        assert extra["model"] == "accounts/fireworks/models/qwen3-0p6b" and extra["finish_reason"] == "stop"
        assert done.execution_metadata.rollout_id == row.execution_metadata.rollout_id
    assert seconds < 20  # 50 half-second answers at once, not one after another (generous bound)

    # the gateway's record: the status each fault deserves; eval-protocol's row keeps the words
    finals = gateway.final_statuses()
    assert finals["rollout-f0"].status["code"] == Code.RESOURCE_EXHAUSTED
    assert finals["rollout-f1"].status["code"] == Code.INTERNAL
    assert finals["rollout-f2"].status["code"] == Code.DEADLINE_EXCEEDED
    for name, words in (("rate", "HTTP 429"), ("error", "HTTP 500"), ("hang", "did not answer within 1.5 s")):
        status = by_row[faulted[name].input_metadata.row_id].rollout_status
        assert not status.is_finished() and words in status.message
    # a retried rollout (429, hang) re-posts its id: the server starts nothing new
    per_rollout = {}
    for req in gateway.chat_requests:
        rid = req.path.split("/")[2]
        per_rollout[rid] = per_rollout.get(rid, 0) + 1
    assert set(per_rollout.values()) == {1} and len(per_rollout) == 53
    assert all(len(gateway.logs_for(f"rollout-r{i}")) == 1 for i in range(50))

    # the key reached the model (it answers 401 otherwise) but nothing the gateway keeps or logs
    assert FAKE_KEY not in gateway.received_text()
    for record in server_log:
        assert FAKE_KEY not in record.getMessage()
        assert FAKE_KEY not in repr(vars(record))


def test_127_0_0_1_as_model_base_url_ends_not_found(stack, monkeypatch):
    """eval-protocol writes the rollout ids into the path only for http://localhost: the gotcha, reproduced."""
    monkeypatch.setenv("EP_REMOTE_API_KEY", FAKE_KEY)
    gateway, server = stack
    gateway.default = _svg_answer(4)
    rows = _rows(1, prefix="ip")
    (out,) = asyncio.run(_process(rows, server.url, gateway.url))  # http://127.0.0.1:PORT
    assert out.rollout_status.code == Code.NOT_FOUND
    assert gateway.traces() == [] and gateway.chat_requests[-1].path == "/chat/completions"


def test_the_command_line_server_runs_a_rollout_and_never_prints_the_key(tmp_path):
    with GatewayStandin(default=_svg_answer(5), require_key=FAKE_KEY) as gateway:
        env = {"PATH": "/usr/bin:/bin", "FW_TRACING_GATEWAY_BASE_URL": gateway.gateway_url,
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "SVGKIT_ROLLOUT_MODEL_TIMEOUT_S": "3",
               "HOME": str(tmp_path)}
        log = tmp_path / "server.log"
        with log.open("w") as sink, start_server_process(env=env, log_level="debug", output=sink) as server:
            payload = _init_payload("cli", gateway.model_base_url)
            payload["completion_params"]["api_key"] = FAKE_KEY  # must never be forwarded or logged either
            assert httpx.post(f"{server.url}/init", json=payload).json()["status"] == "accepted"
            assert _wait_for_status(gateway, "cli").status["code"] == Code.FINISHED
            assert httpx.post(f"{server.url}/init", json={**payload, "metadata": {}}).status_code == 400
    text = log.read_text()
    assert "Application shutdown complete" in text  # SIGTERM: a graceful shutdown (uvicorn then re-raises it)
    assert "POST /init" in text and "rollout cli FINISHED" in text  # it did log, just not the key
    assert FAKE_KEY not in text and FAKE_KEY not in gateway.received_text()


def test_the_dockerfile_copies_what_exists_and_starts_this_server_on_every_interface():
    from conftest import REPO

    dockerfile = (REPO / "deploy" / "rollout-server" / "Dockerfile").read_text()
    copies = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    sources = [src for srcs in copies for src in srcs]
    assert sources and all((REPO / src).exists() for src in sources)
    ignore = (REPO / "deploy" / "rollout-server" / "Dockerfile.dockerignore").read_text().splitlines()
    assert all(f"!{src}" in ignore or f"!{src}/" in ignore for src in sources)  # the build context sends them
    (cmd,) = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert "python -m svgkit.rollout_server --host 0.0.0.0 --port ${PORT:-8000}" in cmd
    env = dict(part.split("=", 1) for part in dockerfile.split("ENV", 1)[1].split("WORKDIR")[0].replace("\\", " ")
               .split() if "=" in part)
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert ServerOptions.from_env(env).allowed_model_hosts == ("tracing.fireworks.ai",)
    assert "FIREWORKS_API_KEY=" not in dockerfile  # keys come from the host at run time, never baked in


def test_model_calls_wait_for_a_burst_of_init_to_be_answered_but_never_for_long():
    with GatewayStandin(default=_svg_answer(6)) as gateway:
        options = ServerOptions(gateway_url=gateway.gateway_url, admission_quiet_s=0.3, admission_max_defer_s=0.8)
        with serve_in_thread(options) as server, httpx.Client() as client:
            start = time.monotonic()
            client.post(f"{server.url}/init", json=_init_payload("q0", gateway.model_base_url))
            _wait_for_status(gateway, "q0")
            assert gateway.chat_requests[0].received_at - start >= 0.3  # waited for a quiet moment
            gateway.clear()
            start, i = time.monotonic(), 0
            while time.monotonic() - start < 1.6:  # a steady stream of /init, never quiet for 0.3 s
                client.post(f"{server.url}/init", json=_init_payload(f"q{i + 1}", gateway.model_base_url))
                i += 1
                time.sleep(0.05)
            first_call = min(r.received_at for r in gateway.chat_requests)
            assert first_call - start < 1.3  # started within admission_max_defer_s (plus slack), not starved


def test_the_cli_freezes_its_startup_heap_before_serving(monkeypatch):
    """A full collection over the imported modules stalled every /init in flight: main() freezes them first."""
    import gc

    import uvicorn

    import svgkit.rollout_server

    seen = {}

    def fake_run(app, **kwargs):
        seen["frozen"] = gc.get_freeze_count()
        seen["kwargs"] = kwargs

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)  # leave pytest's logging alone
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        svgkit.rollout_server.main(["--port", "8123", "--log-level", "warning"])
        # everything imported so far (eval-protocol, litellm, fastapi: hundreds of thousands of objects)
        assert seen["frozen"] > 100_000
        assert seen["kwargs"]["port"] == 8123
    finally:
        gc.unfreeze()
