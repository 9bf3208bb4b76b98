"""Eval Protocol glue: what the evaluator runs on, scoring a row, running it under pytest.

Scoring answers in a notebook (``score_generations``, ``ScoredAnswer``) lives in
:mod:`svgkit.scoring`; this module does not re-export it.

The evaluator file (:mod:`svgkit.evaluator`) stays a thin ``@evaluation_test``: it asks
:func:`evaluator_plan` which dataset, rollout processor and completion parameters to use,
and scores each row with :func:`ascore_row`. Notebooks run it with :func:`run_evaluator`,
in a subprocess (``pytest.main()`` inside a Jupyter kernel does not work).

========  ===============================================  =====================================
mode      rollouts                                         dataset
========  ===============================================  =====================================
live      ``SingleTurnRolloutProcessor`` on the policy       ``outputs/data/train.jsonl`` (nb 01)
offline   ``NoOpRolloutProcessor``: answers already in row   ``outputs/data/example_rows.jsonl``
========  ===============================================  =====================================

With ``SVGKIT_ROLLOUT_SERVER_URL`` set, rollouts go to a remote rollout server instead
(``RemoteRolloutProcessor``; :mod:`svgkit.rollout_server`): live on the training rows through
Fireworks' tracing gateway, or offline as a rehearsal on the bundled example prompts, whose
model must then be local (``SVGKIT_ROLLOUT_MODEL_BASE_URL=http://localhost:PORT``, the stand-in
:class:`svgkit.standin.GatewayStandin`). The reward is the same either way.
"""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ._ep import EvaluateResult, EvaluationRow
from .config import EVALUATION, FILES, MODELS, ROLLOUT_SERVER, Settings, get_settings, output_path
from .dataset import examples_to_rows, load_bundled_prompts, load_examples, write_rows
from .judge import Judge, JudgeChoice, choose_judge, default_judge
from .scoring import ascore_answer, decided_figures, invalid_score, judged_by

__all__ = [
    "OFFLINE_MODEL",
    "TIMEOUT_RETURNCODE",
    "EvaluatorPlan",
    "EvaluatorRun",
    "RemoteRollout",
    "RowScore",
    "ascore_row",
    "evaluator_plan",
    "read_results",
    "run_evaluator",
]

#: ``EvaluatorRun.returncode`` of a run stopped at its time limit (as GNU ``timeout`` reports it).
TIMEOUT_RETURNCODE = 124

#: ``completion_params`` of offline runs: no model is called, the answers are in the rows.
OFFLINE_MODEL = "bundled-examples"


@dataclass(frozen=True)
class RemoteRollout:
    """Where the evaluator's remote mode sends rollouts (``RemoteRolloutProcessor``'s settings).

    Attributes:
        server_url: The rollout server's base URL (``SVGKIT_ROLLOUT_SERVER_URL``).
        model_base_url: Where the server calls the model, and where the processor reads
            status, logs and traces (``SVGKIT_ROLLOUT_MODEL_BASE_URL``; default the tracing gateway).
        poll_interval_s: How often the processor polls for a rollout's status.
        timeout_s: How long it waits for a terminal status.
    """

    server_url: str
    model_base_url: str
    poll_interval_s: float = ROLLOUT_SERVER.poll_interval_s
    timeout_s: float = ROLLOUT_SERVER.processor_timeout_s


@dataclass(frozen=True)
class EvaluatorPlan:
    """What the evaluator will run on (see the module docs).

    Attributes:
        mode: ``live`` (the policy generates answers) or ``offline`` (bundled examples).
        dataset: The JSONL rows Eval Protocol loads.
        rollout: ``single-turn``, ``no-op`` or ``remote``.
        completion_params: Model and sampling parameters (never a key).
        judge_mode: ``live`` (vision judge) or ``offline`` (rule judge).
        remote: Where remote rollouts go (``rollout="remote"`` only).
        max_concurrent_rollouts: Rollouts Eval Protocol keeps in flight.
        judge: Which judge scores and why (:func:`svgkit.judge.choose_judge`); refused when live
            rollouts would be scored by a rule judge nobody chose.
    """

    mode: Literal["offline", "live"]
    dataset: Path
    rollout: Literal["single-turn", "no-op", "remote"]
    completion_params: dict[str, Any]
    judge_mode: Literal["offline", "live"]
    remote: RemoteRollout | None = None
    max_concurrent_rollouts: int = EVALUATION.concurrency
    judge: JudgeChoice | None = None

    def rollout_processor(self) -> Any:
        """A fresh Eval Protocol rollout processor for this plan."""
        from eval_protocol.pytest import NoOpRolloutProcessor, RemoteRolloutProcessor, SingleTurnRolloutProcessor

        if self.rollout == "remote":
            if self.remote is None:
                raise ValueError("a remote plan needs its RemoteRollout settings")
            return RemoteRolloutProcessor(remote_base_url=self.remote.server_url,
                                          model_base_url=self.remote.model_base_url,
                                          poll_interval=self.remote.poll_interval_s,
                                          timeout_seconds=self.remote.timeout_s)
        return SingleTurnRolloutProcessor() if self.rollout == "single-turn" else NoOpRolloutProcessor()


def evaluator_plan(settings: Settings | None = None, *, write_examples: bool = True) -> EvaluatorPlan:
    """Choose dataset, rollout processor, completion parameters and judge from the mode.

    Offline, the bundled example rows are (re)written to the output folder when missing,
    so the evaluator runs even before notebook 01. Live, the training rows must exist.

    With ``SVGKIT_ROLLOUT_SERVER_URL`` set the plan is remote (see the module docs).

    The plan's :attr:`EvaluatorPlan.judge` says which judge scores (:func:`svgkit.judge.choose_judge`,
    with live rollouts for any plan that is not the offline bundled-examples run); the evaluator
    refuses to start when that choice is refused. The plan itself is returned either way, so a
    notebook can show why.

    Raises:
        FileNotFoundError: Live mode and notebook 01 has not written the training rows yet.
        ValueError: Remote mode with a server URL that is not http(s), or offline with a model
            that is not local (an offline run never calls a paid model).
    """
    settings = settings or get_settings()
    plan = _plan(settings, write_examples=write_examples)
    return replace(plan, judge=choose_judge(settings, live_rollouts=plan.mode == "live"))


def _plan(settings: Settings, *, write_examples: bool) -> EvaluatorPlan:
    judge_mode = settings.mode("judge")
    if settings.rollout_server_url:
        return _remote_plan(settings, judge_mode, write_examples=write_examples)
    if settings.mode("generate") == "live":
        dataset = output_path(FILES.train)
        if not dataset.is_file():
            raise FileNotFoundError(f"{dataset} does not exist: run notebook 01 to write the training rows")
        params = _live_params(settings)
        if settings.generation_base_url.rstrip("/") != MODELS.fireworks_base_url:
            # Another OpenAI-compatible server (Ollama, vLLM): litellm's generic provider, which
            # sends no Fireworks or OpenAI key there (it reads only HOSTED_VLLM_API_KEY).
            params["model"] = MODELS.litellm_generic_prefix + settings.eval_model
            params["api_base"] = settings.generation_base_url
        return EvaluatorPlan("live", dataset, "single-turn", params, judge_mode)
    dataset = output_path(FILES.example_rows)
    if write_examples and not dataset.is_file():
        write_rows(examples_to_rows(load_examples(), load_bundled_prompts()), dataset)
    return EvaluatorPlan("offline", dataset, "no-op", {"model": OFFLINE_MODEL}, judge_mode)


def _live_params(settings: Settings) -> dict[str, Any]:
    return {"model": MODELS.litellm_fireworks_prefix + settings.eval_model,
            "temperature": EVALUATION.temperature, "max_tokens": EVALUATION.max_tokens}


def _remote_plan(settings: Settings, judge_mode: Literal["offline", "live"], *,
                 write_examples: bool) -> EvaluatorPlan:
    server_url = settings.rollout_server_url or ""
    if urlsplit(server_url).scheme not in ("http", "https"):
        raise ValueError(f"{ROLLOUT_SERVER.url_env} must be an http(s) URL, not {server_url!r}")
    remote = RemoteRollout(server_url, settings.rollout_model_base_url)
    if settings.mode("generate") == "live":
        dataset = output_path(FILES.train)
        if not dataset.is_file():
            raise FileNotFoundError(f"{dataset} does not exist: run notebook 01 to write the training rows")
        return EvaluatorPlan("live", dataset, "remote", _live_params(settings), judge_mode, remote,
                             ROLLOUT_SERVER.evaluator_concurrency)
    if urlsplit(remote.model_base_url).hostname not in ("localhost", "127.0.0.1"):
        raise ValueError(
            f"offline, remote rollouts are a rehearsal and must not reach a paid model, but "
            f"{ROLLOUT_SERVER.model_base_url_env} is {remote.model_base_url!r}: point it at the local stand-in "
            "(http://localhost:PORT, svgkit.standin.GatewayStandin), or enable spending to run live")
    dataset = output_path(ROLLOUT_SERVER.rehearsal_rows)
    if write_examples and not dataset.is_file():
        rows = examples_to_rows(load_examples(), load_bundled_prompts())
        for row in rows:  # the prompt only: the stand-in model answers with the example
            row["messages"] = [m for m in row["messages"] if m["role"] != "assistant"]
        write_rows(rows, dataset)
    params = {"model": OFFLINE_MODEL, "temperature": EVALUATION.temperature, "max_tokens": EVALUATION.max_tokens}
    return EvaluatorPlan("offline", dataset, "remote", params, judge_mode, remote,
                         ROLLOUT_SERVER.evaluator_concurrency)


async def ascore_row(row: EvaluationRow, *, judge: Judge | None = None,
                     settings: Settings | None = None) -> EvaluateResult:
    """Score one Eval Protocol row: its last assistant message against its requirements.

    A failed rollout (an error status, or no assistant answer) scores 0 with
    ``is_score_valid=False`` and the status as the reason, so it is never mistaken for a
    real zero. Everything else is :func:`svgkit.reward.ascore_response`; an unexpected error
    in it is an invalid score too, never a lost row (:func:`svgkit.scoring.ascore_answer`).

    Without ``judge``, the judge is the one the evaluator plan would choose: when generation is
    live, the rows are live rollouts, and the rule judge scores them only if ``SVGKIT_JUDGE=rule``.

    Raises:
        JudgeNotChosenError: No ``judge`` given, live rollouts, no judge key and no ``SVGKIT_JUDGE=rule``.
    """
    status = row.rollout_status
    if status is not None and not (status.is_running() or status.is_finished()):
        code = status.code.name if hasattr(status.code, "name") else status.code
        return invalid_score(f"rollout failed: status {code} {status.message}".strip())
    info = (row.input_metadata.dataset_info if row.input_metadata else None) or {}
    requirements = info.get("requirements")
    if not requirements:
        return invalid_score("row has no dataset_info.requirements: was it written by svgkit.dataset.to_eval_rows?")
    answers = [m for m in row.messages if m.role == "assistant"]
    if not answers:
        return invalid_score("rollout failed: no assistant message in the row")
    content = answers[-1].content
    if not isinstance(content, str):  # multi-part content: keep the text parts
        content = "".join(getattr(p, "text", "") or "" for p in (content or []))
    if judge is None:  # as the evaluator plan chooses: live rollouts are never scored by an unchosen rule judge
        settings = settings or get_settings()
        judge = default_judge(settings, live_rollouts=settings.mode("generate") == "live")
    result, _ = await ascore_answer(content, requirements, judge=judge, prompt=info.get("original_prompt"),
                                    settings=settings)
    return result


# --------------------------------------------------------------------------- running and reading
@dataclass(frozen=True)
class RowScore:
    """One scored row as read back from Eval Protocol's results."""

    row_id: str
    score: float
    valid: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def judge(self) -> str | None:
        """Which judge scored the row (``None`` when none was asked)."""
        return judged_by(self.metrics)

    @property
    def decided_share(self) -> float | None:
        """Share of the requirements the judge decided."""
        return decided_figures(self.metrics)[0]


@dataclass(frozen=True)
class EvaluatorRun:
    """The outcome of :func:`run_evaluator`.

    Attributes:
        returncode: pytest's exit code (0: passed; :data:`TIMEOUT_RETURNCODE` when stopped at the limit).
        seconds: Wall time, pytest start-up included.
        output_dir: Where Eval Protocol wrote its results (``--ep-output-dir``).
        summary: pytest's result line and Eval Protocol's summary (``EP Summary``), without
            durations or links to Eval Protocol's local UI (served only by ``ep logs``), so it
            reads the same on every run; when neither is found (a crash), the last lines of the output.
        scores: The rows this run scored, read back from the files it wrote in ``output_dir``.
        output: Everything pytest printed (stdout, then stderr), links and warnings included.
    """

    returncode: int
    seconds: float
    output_dir: Path
    summary: str
    scores: tuple[RowScore, ...]
    output: str = ""

    @property
    def mean_score(self) -> float:
        """Mean score over the rows with a valid score."""
        valid = [s.score for s in self.scores if s.valid]
        return sum(valid) / len(valid) if valid else 0.0

    @property
    def judges(self) -> tuple[str, ...]:
        """The judges that scored this run's rows (``rule``, ``vision:gpt-4.1`` ...), sorted."""
        return tuple(sorted({j for s in self.scores if (j := s.judge)}))

    @property
    def mean_decided_share(self) -> float | None:
        """Mean share of requirements the judge decided, over the rows it judged."""
        shares = [d for s in self.scores if (d := s.decided_share) is not None]
        return sum(shares) / len(shares) if shares else None


_PYTEST_RESULT = re.compile(r"^=*\s*(\d+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)\b.*?)"
                            r"(\s+in\s+[\d.]+\s*s(\s*\([^)]*\))?)?\s*=*$")


def _run_summary(output: str) -> str:
    """pytest's result line and Eval Protocol's ``EP Summary`` block, durations left out."""
    kept: list[str] = []
    in_ep = False
    for line in output.splitlines():
        if line.startswith("EP Summary"):
            in_ep = True
            kept.append(line)
            continue
        if in_ep and line.startswith("  ") and "=" in line:
            kept.append(line)
            continue
        in_ep = False
        match = _PYTEST_RESULT.match(line.strip())
        if match:
            kept.append(match.group(1).strip())
    if not kept:
        kept = output.strip().splitlines()[-15:]
    return "\n".join(kept)


def _result_files(output_dir: Path) -> list[Path]:
    """Result files, oldest first (so a later run's score for a row wins)."""
    return sorted(output_dir.rglob("*.json*"), key=lambda p: (p.stat().st_mtime_ns, p.name))


def read_results(output_dir: Path | str, *, only: Sequence[Path] | None = None) -> list[RowScore]:
    """Read scored rows from Eval Protocol's ``--ep-output-dir`` (JSON/JSONL files of rows).

    Args:
        output_dir: The folder given to ``--ep-output-dir``.
        only: Read just these files (default: all, oldest first, so the newest score of a row wins).
    """
    scores: dict[str, RowScore] = {}
    for path in (list(only) if only is not None else _result_files(Path(output_dir))):
        text = path.read_text(encoding="utf-8", errors="replace")
        chunks = text.splitlines() if path.suffix == ".jsonl" else [text]
        for chunk in chunks:
            try:
                data = json.loads(chunk)
            except json.JSONDecodeError:
                continue
            for row in data if isinstance(data, list) else [data]:
                if not isinstance(row, dict) or not isinstance(row.get("evaluation_result"), dict):
                    continue
                result = row["evaluation_result"]
                row_id = (row.get("input_metadata") or {}).get("row_id") or f"row-{len(scores)}"
                scores[row_id] = RowScore(row_id, float(result.get("score") or 0.0),
                                          bool(result.get("is_score_valid", True)), result.get("reason") or "",
                                          result.get("metrics") or {})
    return list(scores.values())


def run_evaluator(*, output_dir: Path | str | None = None, extra_args: Sequence[str] = (),
                  env: dict[str, str] | None = None, settings: Settings | None = None,
                  timeout_s: float = 900) -> EvaluatorRun:
    """Run :mod:`svgkit.evaluator` under pytest in a subprocess and read back its results.

    Args:
        output_dir: ``--ep-output-dir`` (default: ``outputs/ep_results``).
        extra_args: More pytest arguments.
        env: Extra environment for the subprocess (keys stay in the environment, never in args).
        settings: Settings whose spending opt-in applies: the evaluator runs live only with
            ``with_spending(True)`` settings (and keys); without settings it runs offline.
        timeout_s: Kill the run after this long.
    """
    out = Path(output_dir) if output_dir else output_path(FILES.ep_results, create_parent=True)
    out.mkdir(parents=True, exist_ok=True)
    evaluator = Path(__file__).with_name("evaluator.py")
    # -p svgkit._ep: Eval Protocol imported before its plugin, without its forced deprecation warning.
    cmd = [sys.executable, "-m", "pytest", str(evaluator), "-q", "-p", "no:cacheprovider", "-p", "svgkit._ep",
           "--color=no", "--ep-print-summary", f"--ep-output-dir={out}", *extra_args]
    child_env = {**os.environ, "EP_NO_UPLOAD": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})}
    if settings is not None and "SVGKIT_EVAL_MODEL" not in (env or {}):
        child_env["SVGKIT_EVAL_MODEL"] = settings.eval_model  # the evaluator runs the policy these settings name
    if settings is None or not settings.spend_allowed or settings.forced_mode == "offline":
        child_env["SVGKIT_MODE"] = "offline"  # paid calls need an explicit opt-in (config.with_spending)
    before = {p: p.stat().st_mtime_ns for p in _result_files(out)}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env, timeout=timeout_s,
                              cwd=Path.cwd())
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:  # keep what the run wrote before it was stopped
        partial = [x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr)]
        returncode, output = TIMEOUT_RETURNCODE, "".join(partial) + f"\nstopped: timed out after {timeout_s:g} s"
    seconds = time.perf_counter() - start
    written = [p for p in _result_files(out) if before.get(p) != p.stat().st_mtime_ns]
    return EvaluatorRun(returncode, seconds, out, _run_summary(output), tuple(read_results(out, only=written)),
                        output)

