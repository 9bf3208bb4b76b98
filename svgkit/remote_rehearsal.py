"""An offline rehearsal of remote rollouts: the evaluator, the rollout server and a stand-in gateway.

The evaluator's remote mode (``SVGKIT_ROLLOUT_SERVER_URL``) sends each row to a rollout server,
which calls the model through Fireworks' tracing gateway and reports back there. Offline,
:func:`local_remote_stack` starts both ends on this machine: a :class:`svgkit.rollout_server`
in a background thread and a :class:`svgkit.standin.GatewayStandin` whose "model" answers each
row with its bundled example response. :func:`rehearse_remote_evaluation` then runs the real
evaluator (pytest in a subprocess, ``RemoteRolloutProcessor``) against them and returns its
scores, which :func:`compare_scores` sets beside the single-turn (no-op) path's.

Nothing here is model output and nothing reaches Fireworks: it rehearses the plumbing (the
requests, the background rollouts, the status records, the traces) with hand-written answers.
"""

import contextlib
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ._ep import Status
from .config import ROLLOUT_SERVER, output_path
from .display import Markdown
from .evaluation import EvaluatorRun, run_evaluator
from .rollout_server import RunningServer, ServerOptions, serve_in_thread
from .standin.gateway import GatewayStandin

__all__ = [
    "LocalRemoteStack",
    "RemoteRehearsal",
    "ScoreComparison",
    "compare_scores",
    "local_remote_stack",
    "rehearse_remote_evaluation",
]


@dataclass(frozen=True)
class LocalRemoteStack:
    """The two local ends of a remote-rollout rehearsal.

    Attributes:
        gateway: The stand-in gateway and model.
        server: The rollout server, running in this process.
    """

    gateway: GatewayStandin
    server: RunningServer

    @property
    def env(self) -> dict[str, str]:
        """Environment for an evaluator run in remote mode against this stack.

        Keys are blanked, so not even a local rehearsal carries a real one.
        """
        return {ROLLOUT_SERVER.url_env: self.server.url,
                ROLLOUT_SERVER.model_base_url_env: self.gateway.model_base_url,
                "FIREWORKS_API_KEY": "", "EP_REMOTE_API_KEY": ""}


@contextlib.contextmanager
def local_remote_stack(*, model_delay_s: float = 0.0, options: ServerOptions | None = None,
                       gateway: GatewayStandin | None = None) -> Iterator[LocalRemoteStack]:
    """Start a stand-in gateway (bundled example answers) and a rollout server wired to it.

    Args:
        model_delay_s: How long the stand-in model takes per answer.
        options: Server options (default: from the environment); the gateway URL and the
            allowed model hosts are set to the local stand-in's.
        gateway: A gateway to use instead (not started yet); default
            :meth:`GatewayStandin.with_examples`.
    """
    gateway = gateway or GatewayStandin.with_examples(model_delay_s=model_delay_s)
    with gateway:
        opts = replace(options or ServerOptions.from_env(), gateway_url=gateway.gateway_url,
                       allowed_model_hosts=("localhost", "127.0.0.1"))
        with serve_in_thread(opts) as server:
            yield LocalRemoteStack(gateway, server)


@dataclass(frozen=True)
class RemoteRehearsal:
    """What a rehearsal did, from both sides.

    Attributes:
        run: The evaluator's run (its scores are Eval Protocol's, read back from its files).
        statuses: How many rollouts ended with each terminal status, as the gateway recorded them.
        with_svg: Rollouts whose extras say the answer held an SVG.
        model_calls: Chat completions the stand-in model answered.
        traced: Rollouts with a trace (the conversation the evaluator read back).
    """

    run: EvaluatorRun
    statuses: dict[str, int]
    with_svg: int
    model_calls: int
    traced: int

    @property
    def rollouts(self) -> int:
        """Rollouts that reported a terminal status."""
        return sum(self.statuses.values())

    def summary(self) -> Markdown:
        """A short Markdown report (says it is a rehearsal)."""
        statuses = ", ".join(f"{name} {n}" for name, n in sorted(self.statuses.items())) or "none"
        valid = sum(s.valid for s in self.run.scores)
        return Markdown("\n".join([
            "**Rehearsal** (offline: local rollout server, stand-in gateway; answers are the bundled "
            "hand-written examples, not model output)",
            "",
            "| | |", "|---|---|",
            f"| rollouts reported to the gateway | {self.rollouts} ({statuses}) |",
            f"| model calls / traced rollouts | {self.model_calls} / {self.traced} |",
            f"| answers with an SVG (server extras) | {self.with_svg} |",
            f"| rows scored by the evaluator | {len(self.run.scores)} ({valid} valid) |",
            f"| mean score (valid rows) | {self.run.mean_score:.3f} |",
            f"| evaluator exit code | {self.run.returncode} |",
        ]))


def rehearse_remote_evaluation(*, output_dir: Path | str | None = None, max_rows: int | None = None,
                               model_delay_s: float = 0.0, timeout_s: float = 900) -> RemoteRehearsal:
    """Run the evaluator in remote mode, offline, against a :func:`local_remote_stack`.

    Args:
        output_dir: ``--ep-output-dir`` (default ``outputs/ep_results_remote``).
        max_rows: Only the first this many rows (``--ep-max-rows``; default all 86 examples).
        model_delay_s: How long the stand-in model takes per answer.
        timeout_s: Stop the evaluator after this long.
    """
    out = Path(output_dir) if output_dir else output_path(ROLLOUT_SERVER.rehearsal_results, create_parent=True)
    extra = [f"--ep-max-rows={max_rows}"] if max_rows else []
    with local_remote_stack(model_delay_s=model_delay_s) as stack:
        run = run_evaluator(output_dir=out, extra_args=extra, env=stack.env, timeout_s=timeout_s)
        finals = stack.gateway.final_statuses()
        statuses = Counter(Status.Code(e.status["code"]).name for e in finals.values() if e.status)
        with_svg = sum(bool(e.extras.get("svg_found")) for e in finals.values())
        traced = len({t.ids["rollout_id"] for t in stack.gateway.traces()})
        calls = len(stack.gateway.chat_requests)
    return RemoteRehearsal(run, dict(statuses), with_svg, calls, traced)


@dataclass(frozen=True)
class ScoreComparison:
    """Scores of the same rows through two paths (remote rehearsal vs single-turn/no-op).

    Attributes:
        matched: Rows scored by both.
        identical: Matched rows with the same score and validity.
        max_difference: Largest score difference over matched rows.
        mean_remote: Mean valid score of the remote run over matched rows.
        mean_local: Mean valid score of the local run over matched rows.
        only_remote: Row ids only the remote run scored.
        only_local: Row ids only the local run scored.
    """

    matched: int
    identical: int
    max_difference: float
    mean_remote: float
    mean_local: float
    only_remote: tuple[str, ...]
    only_local: tuple[str, ...]

    def _repr_markdown_(self) -> str:
        return "\n".join([
            "| | remote (rehearsal) | single-turn path |", "|---|---|---|",
            f"| rows scored by both | {self.matched} | {self.matched} |",
            f"| mean score (valid rows) | {self.mean_remote:.3f} | {self.mean_local:.3f} |",
            f"| rows only in this run | {len(self.only_remote)} | {len(self.only_local)} |",
            "",
            f"{self.identical} of {self.matched} rows scored identically; largest difference "
            f"{self.max_difference:.3f}.",
        ])

    def __str__(self) -> str:
        return self._repr_markdown_()


def compare_scores(remote: EvaluatorRun, local: EvaluatorRun) -> ScoreComparison:
    """Compare two evaluator runs row by row (by ``row_id``)."""
    r = {s.row_id: s for s in remote.scores}
    s = {x.row_id: x for x in local.scores}
    both = sorted(r.keys() & s.keys())
    diffs = [abs(r[k].score - s[k].score) for k in both]
    identical = sum(r[k].score == s[k].score and r[k].valid == s[k].valid for k in both)

    def mean(scores: dict, keys: list[str]) -> float:
        valid = [scores[k].score for k in keys if scores[k].valid]
        return statistics.fmean(valid) if valid else 0.0

    return ScoreComparison(len(both), identical, max(diffs, default=0.0), mean(r, both), mean(s, both),
                           tuple(sorted(r.keys() - s.keys())), tuple(sorted(s.keys() - r.keys())))
