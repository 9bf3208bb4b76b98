"""A stand-in of an OpenAI-compatible chat-completions endpoint (a model, a vision judge).

:class:`ChatStandin` answers ``POST .../chat/completions`` (under any path prefix, so a
gateway-style URL with ids in its path works too) and ``GET .../models``. Answers come from,
in order: scripted items (:meth:`~svgkit.standin.base.StandinServer.push`: a
:class:`Completion`, or any fault :class:`~svgkit.standin.base.Response`), then the
``responder`` callable, then ``default`` (a 500 unless set), so a client that calls more often
than expected fails loudly instead of hanging.

Example::

    with ChatStandin() as chat:
        chat.push(Response.error(429), Completion('{"ok": true}'))
        client = openai.OpenAI(base_url=chat.base_url, api_key="test", max_retries=0)
        ...
        assert chat.chat_requests[-1].json["model"] == "gpt-4.1"
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from .base import RecordedRequest, Request, Response, StandinServer

__all__ = [
    "ChatStandin",
    "Completion",
    "Responder",
]

_ids = count(1)


@dataclass(frozen=True)
class Completion:
    """A successful chat completion, rendered for the request that gets it (SSE when it streams).

    Attributes:
        content: Message content; dicts and lists are JSON-encoded, ``None`` stays null.
        model: Model echoed back (default: the requested one).
        prompt_tokens: Reported input tokens.
        completion_tokens: Reported output tokens.
        finish_reason: ``stop``, ``length``, ...
        refusal: A refusal message (content is then usually ``None``).
        delay_s: Wait this long before answering.
    """

    content: Any = ""
    model: str | None = None
    prompt_tokens: int = 100
    completion_tokens: int = 20
    finish_reason: str = "stop"
    refusal: str | None = None
    delay_s: float = 0.0

    def __call__(self, request: Request) -> Response:
        """The HTTP response for ``request``."""
        req = request.json()
        req = req if isinstance(req, dict) else {}
        content = json.dumps(self.content) if isinstance(self.content, dict | list) else self.content
        model = self.model or req.get("model") or "standin-model"
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                 "total_tokens": self.prompt_tokens + self.completion_tokens}
        cid, created = f"chatcmpl-standin{next(_ids)}", int(time.time())
        if req.get("stream"):
            chunks = [
                {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": content or ""},
                              "finish_reason": None}]},
                {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": {}, "finish_reason": self.finish_reason}], "usage": usage},
            ]
            body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return Response(200, body.encode(), content_type="text/event-stream", delay_s=self.delay_s)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.refusal is not None:
            message["refusal"] = self.refusal
        body = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
                "usage": usage}
        return Response(200, json.dumps(body).encode(), delay_s=self.delay_s)


#: Answers a chat request: a completion, or any response (a fault).
Responder = Callable[[Request], "Response | Completion"]


class ChatStandin(StandinServer):
    """A threaded chat-completions stand-in on ``127.0.0.1``.

    Args:
        responder: Chooses the answer from the request when nothing is scripted.
        default: The answer when nothing is scripted and there is no responder (a 500).
        models: Model ids listed by ``GET .../models``.
        port: The port (0: any free one).
    """

    def __init__(self, *, responder: Responder | None = None, default: "Response | Completion | None" = None,
                 models: tuple[str, ...] = ("standin-model",), port: int = 0) -> None:
        super().__init__(port=port, name="svgkit-chat-standin")
        self.responder = responder
        self.default = default or Response.error(500, "chat stand-in: nothing scripted for this request")
        self.models = models
        self.add_route("POST", r"(?:/.*)?/chat/completions", self._complete)
        self.add_route("GET", r"(?:/.*)?/models", self._list_models)

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL, ending in ``/v1``."""
        return f"{self.url}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the requests to ``.../chat/completions``."""
        return self.requests_to("POST", r"(?:/.*)?/chat/completions")

    def _complete(self, request: Request) -> Response:
        answer = self.responder(request) if self.responder else self.default
        return answer(request) if isinstance(answer, Completion) else answer

    def _list_models(self, request: Request) -> Response:
        return Response.json({"object": "list", "data": [
            {"id": m, "object": "model", "owned_by": "svgkit-standin"} for m in self.models]})
