"""Local stand-ins of the services svgkit talks to, for rehearsals and tests.

Each stand-in is a real HTTP server on ``127.0.0.1`` that speaks the part of a service's API
that svgkit uses, through the same client libraries as the real thing. They are rehearsal
tools: nothing they answer comes from the real service, and every notebook that uses one says
so. They record every request without secret values, and any route can be made to fail on
purpose (an error status, a hang, a trickle, a cut body, a dropped connection) to test the clients.

- :mod:`svgkit.standin.base`: the server, routes, scripted faults and request records.
- :mod:`svgkit.standin.chat`: an OpenAI-compatible chat-completions endpoint.
- :mod:`svgkit.standin.fireworks`: the Fireworks control plane (account, secrets, datasets,
  evaluators, RFT jobs, deployments, models) as eval-protocol and the ``fireworks`` SDK call it,
  with a configurable clock, resource-level faults and optional state on disk
  (``python -m svgkit.standin.fireworks`` serves it).
- :mod:`svgkit.standin.gateway`: Fireworks' tracing gateway and the model behind it (remote rollouts).
"""

from .base import MAX_HANG_S, RecordedRequest, Request, Response, Route, StandinServer
from .chat import ChatStandin, Completion
from .fireworks import BuildPlan, Call, Clock, DeploymentPlan, FireworksStandin, JobPlan, Timings
from .gateway import GatewayStandin, LogEntry, Trace

__all__ = [
    "MAX_HANG_S",
    "BuildPlan",
    "Call",
    "ChatStandin",
    "Clock",
    "Completion",
    "DeploymentPlan",
    "FireworksStandin",
    "GatewayStandin",
    "JobPlan",
    "LogEntry",
    "RecordedRequest",
    "Request",
    "Response",
    "Route",
    "StandinServer",
    "Timings",
    "Trace",
]
