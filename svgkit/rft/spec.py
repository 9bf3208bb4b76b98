"""The RFT job spec: the upstream recipe as typed defaults, checked before anything is sent.

:class:`RftJobSpec` holds every setting of a Fireworks reinforcement fine-tuning job, with the
upstream quickstart's recipe (:data:`svgkit.config.RFT`) as defaults. :func:`check_spec` finds
what would make the job fail or learn nothing, and says what to change: locally (group size,
context length, the dataset against the chunk size, ranges from Fireworks' parameter reference)
and, given a :class:`~svgkit.rehearsal.PlatformSession`, on the account (the dataset is READY,
the evaluator ACTIVE, the judge's secret stored, the output model name free, the base model
reachable). Those account checks are free ``GET`` requests.

The spec maps to exactly one SDK call, :meth:`RftJobSpec.sdk_kwargs` (the keyword arguments of
``client.reinforcement_fine_tuning_jobs.create`` in fireworks-ai 1.2.30), and is also shown as
the equivalent ``eval-protocol create rft`` command (:meth:`RftJobSpec.cli_command`, flags of
eval-protocol 0.3.33).
"""

import hashlib
import json
import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal

from ..config import DATASET, RFT
from .views import MarkdownView

if TYPE_CHECKING:  # imported for annotations only: the rehearsal module starts servers
    from ..rehearsal import PlatformSession

__all__ = [
    "LOSS_METHODS",
    "RftJobSpec",
    "SpecCheck",
    "SpecError",
    "SpecProblem",
    "WandbSettings",
    "check_spec",
    "longest_prompt_tokens",
]

#: The RL loss methods of fireworks-ai 1.2.30's ``ReinforcementLearningLossConfig`` (DPO and ORPO
#: are preference methods, for the DPO API).
LOSS_METHODS = ("GRPO", "DAPO", "GSPO_TOKEN")

_ID_RX = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_MODEL_RX = re.compile(r"accounts/[^/]+/models/[^/]+")


@dataclass(frozen=True)
class WandbSettings:
    """Weights & Biases logging for the job (its key comes from ``WANDB_API_KEY`` at launch).

    Attributes:
        project: The W&B project.
        entity: The W&B team or user (default: the key's own).
        run_id: The run to log to (default: the job id, so svgkit knows where to read the curve).
    """

    project: str
    entity: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a spec, and what to change.

    Attributes:
        field: The spec field (or ``dataset``, ``evaluator``, ``judge secret``, ...).
        message: What is wrong and what to do, in a sentence.
        severity: ``error`` (the launch is refused) or ``warning`` (outside the documented range).
    """

    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SpecError(ValueError):
    """The spec cannot be launched as it is; :attr:`problems` says what to change."""

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"- {p}" for p in self.problems)
        super().__init__(f"the RFT job spec is not ready to launch; change this first:\n{lines}")


@dataclass(frozen=True, repr=False)
class SpecCheck(MarkdownView):
    """The outcome of :func:`check_spec`.

    Attributes:
        problems: Errors and warnings, in the order found.
        account_checked: Whether the account was looked at (dataset, evaluator, secret, models).
        rows: Training rows counted, if known.
        where: ``Fireworks`` or ``the stand-in`` (account checks only).
    """

    problems: tuple[SpecProblem, ...]
    account_checked: bool
    rows: int | None = None
    where: str = ""

    @property
    def errors(self) -> tuple[SpecProblem, ...]:
        """Problems that refuse the launch."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[SpecProblem, ...]:
        """Settings outside the documented ranges (allowed, but worth a look)."""
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        """No errors."""
        return not self.errors

    def raise_if_failed(self) -> None:
        """Raise :class:`SpecError` when there are errors."""
        if self.errors:
            raise SpecError(self.errors)

    def table(self) -> str:
        """Markdown: a verdict line and one row per problem."""
        scope = f"spec and account ({self.where})" if self.account_checked else "spec (local checks only)"
        if not self.problems:
            return f"**Checked the {scope}: no problems.**"
        verdict = "ready to launch, with warnings" if self.ok else f"**not ready: {len(self.errors)} error(s)**"
        lines = [f"Checked the {scope}: {verdict}.", "", "| | field | what to change |", "|---|---|---|"]
        for p in self.problems:
            mark = "error" if p.severity == "error" else "warning"
            lines.append(f"| {mark} | `{p.field}` | {p.message.replace('|', '/')} |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()


@dataclass(frozen=True)
class RftJobSpec:
    """Everything a Fireworks RFT job needs, with the upstream recipe as defaults.

    Change a setting with :meth:`replace` (``spec.replace(epochs=2)``); check it with
    :func:`check_spec` before launching (:func:`svgkit.rft.launch_job` does).

    Attributes:
        dataset: The training dataset's id (set after :func:`svgkit.rft.upload_training_rows`).
        evaluator: The evaluator's id (notebook 03 uploads it).
        base_model: The model to train.
        output_model: The id of the LoRA model the job writes (must not exist yet).
        epochs: Passes over the dataset.
        learning_rate: Learning rate.
        lora_rank: LoRA rank.
        max_context_length: Longest prompt plus answer, in tokens.
        batch_size: Most tokens packed into one training batch.
        n: Group size: answers sampled per prompt (``response_candidates_count``).
        max_output_tokens: Longest answer, in tokens.
        temperature: Sampling temperature (``None``: the service's default).
        top_p: Top-p sampling (``None``: the service's default).
        chunk_size: Rows per rollout chunk.
        loss_method: ``GRPO`` (the recipe), ``DAPO`` or ``GSPO_TOKEN``.
        kl_beta: KL penalty towards the base model (``None``: the trainer's default).
        job_id: The job's id (``None``: :func:`svgkit.rft.launch_job` makes one).
        display_name: Display name on the dashboard.
        wandb: Log to Weights & Biases (the reward curve in notebook 04 comes from there).
    """

    dataset: str | None = None
    evaluator: str = RFT.evaluator_id
    base_model: str = RFT.base_model
    output_model: str = RFT.output_model
    epochs: int = RFT.epochs
    learning_rate: float = RFT.learning_rate
    lora_rank: int = RFT.lora_rank
    max_context_length: int = RFT.max_context_length
    batch_size: int = RFT.batch_size_tokens
    n: int = RFT.response_candidates_count
    max_output_tokens: int = RFT.max_output_tokens
    temperature: float | None = RFT.temperature
    top_p: float | None = None
    chunk_size: int = RFT.chunk_size
    loss_method: str = RFT.loss_method
    kl_beta: float | None = None
    job_id: str | None = None
    display_name: str | None = None
    wandb: WandbSettings | None = field(default=None)

    def replace(self, **changes: Any) -> "RftJobSpec":
        """A copy with ``changes`` applied (``spec.replace(n=4, epochs=2)``)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data (what the job state file records; no keys in it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RftJobSpec":
        """The spec :meth:`to_dict` wrote (unknown fields are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("wandb"), Mapping):
            values["wandb"] = WandbSettings(**values["wandb"])
        return cls(**values)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the spec's settings (the job id excluded): two launches of one recipe share it."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("job_id", "display_name")}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    # ------------------------------------------------------------------ the SDK call
    def sdk_kwargs(self, *, account_id: str, job_id: str | None = None,
                   wandb_api_key: str | None = None) -> dict[str, Any]:
        """The keyword arguments of ``client.reinforcement_fine_tuning_jobs.create`` (fireworks-ai 1.2.30).

        Args:
            account_id: The account that owns the dataset and evaluator.
            job_id: The job's id (default :attr:`job_id`; ``None`` lets the service pick one).
            wandb_api_key: The W&B key to send (only with :attr:`wandb`); never stored by svgkit.

        Raises:
            ValueError: No dataset is set yet.
        """
        if not self.dataset:
            raise ValueError("the spec has no dataset yet: upload the training rows first (upload_training_rows)")
        training: dict[str, Any] = {
            "base_model": self.base_model, "output_model": self.output_model, "epochs": self.epochs,
            "learning_rate": self.learning_rate, "lora_rank": self.lora_rank,
            "max_context_length": self.max_context_length, "batch_size": self.batch_size,
        }
        inference: dict[str, Any] = {"response_candidates_count": self.n, "max_output_tokens": self.max_output_tokens}
        if self.temperature is not None:
            inference["temperature"] = self.temperature
        if self.top_p is not None:
            inference["top_p"] = self.top_p
        loss: dict[str, Any] = {"method": self.loss_method}
        if self.kl_beta is not None:
            loss["kl_beta"] = self.kl_beta
        kwargs: dict[str, Any] = {
            "dataset": _resource(account_id, "datasets", self.dataset),
            "evaluator": _resource(account_id, "evaluators", self.evaluator),
        }
        rid = job_id or self.job_id
        if rid:
            kwargs["reinforcement_fine_tuning_job_id"] = rid
        kwargs.update({"training_config": training, "inference_parameters": inference, "loss_config": loss,
                       "chunk_size": self.chunk_size})
        if self.display_name:
            kwargs["display_name"] = self.display_name
        if self.wandb is not None:
            wandb: dict[str, Any] = {"enabled": True, "project": self.wandb.project}
            if self.wandb.entity:
                wandb["entity"] = self.wandb.entity
            run_id = self.wandb.run_id or rid
            if run_id:
                wandb["run_id"] = run_id
            if wandb_api_key:
                wandb["api_key"] = wandb_api_key
            kwargs["wandb_config"] = wandb
        return kwargs

    def cli_command(self, *, job_id: str | None = None) -> str:
        """The same job as an ``eval-protocol create rft`` command (eval-protocol 0.3.33's flags).

        The command runs nothing locally first (``--skip-validation``: notebook 03's preflight did
        that) and asks nothing (``--yes``). The CLI has no flag for :attr:`display_name` or a W&B
        run id, and its ``--rl-loss-method`` flag rejects every value in 0.3.33 (its argparse type
        is a ``typing.Literal``), so the loss method is left to the service's default (GRPO, which
        the SDK call sends explicitly); comment lines above the command say so. The W&B key is
        left as ``$WANDB_API_KEY``. Run it from a folder without a ``.env`` file: the CLI uploads
        every line of ``./.env`` as a Fireworks secret.
        """
        flags: list[tuple[str, Any]] = [
            ("--evaluator", self.evaluator), ("--dataset", self.dataset or "<dataset id>"),
        ]
        rid = job_id or self.job_id
        if rid:
            flags.append(("--job-id", rid))
        flags += [
            ("--base-model", self.base_model), ("--output-model", self.output_model),
            ("--epochs", self.epochs), ("--learning-rate", _num(self.learning_rate)),
            ("--lora-rank", self.lora_rank), ("--max-context-length", self.max_context_length),
            ("--batch-size", self.batch_size), ("--response-candidates-count", self.n),
            ("--max-output-tokens", self.max_output_tokens),
        ]
        if self.temperature is not None:
            flags.append(("--temperature", _num(self.temperature)))
        if self.top_p is not None:
            flags.append(("--top-p", _num(self.top_p)))
        flags.append(("--chunk-size", self.chunk_size))
        if self.kl_beta is not None:
            flags.append(("--rl-kl-beta", _num(self.kl_beta)))
        if self.wandb is not None:
            flags += [("--wandb", None), ("--wandb-project", self.wandb.project)]
            if self.wandb.entity:
                flags.append(("--wandb-entity", self.wandb.entity))
            flags.append(("--wandb-api-key", "$WANDB_API_KEY"))
        flags += [("--skip-validation", None), ("--yes", None)]
        notes = ["# Run from a folder without a .env file: eval-protocol uploads every .env line as a secret."]
        if self.loss_method == "GRPO":
            notes.append("# No --rl-loss-method: eval-protocol 0.3.33 rejects every value of that flag; GRPO is "
                         "the default.")
        else:
            notes.append(f"# This command cannot set loss method {self.loss_method} (eval-protocol 0.3.33 rejects "
                         "every --rl-loss-method value): use the SDK call.")
        parts = ["eval-protocol create rft"]
        for flag, value in flags:
            if value is None:
                parts.append(flag)
            elif value == "$WANDB_API_KEY":
                parts.append(f'{flag} "$WANDB_API_KEY"')
            else:
                parts.append(f"{flag} {shlex.quote(str(value))}")
        return "\n".join(notes) + "\n" + " \\\n  ".join(parts)

    def table(self) -> str:
        """Markdown: every setting, where it goes in the SDK call, and the upstream recipe's value."""
        rows = [
            ("dataset", self.dataset or "(set after the upload)", "dataset", "svgbench-dataset"),
            ("evaluator", self.evaluator, "evaluator", "test-svgagent-test-svg-generation-evaluation"),
            ("base_model", self.base_model, "training_config.base_model", RFT.base_model),
            ("output_model", self.output_model, "training_config.output_model", RFT.output_model),
            ("epochs", self.epochs, "training_config.epochs", RFT.epochs),
            ("learning_rate", _num(self.learning_rate), "training_config.learning_rate", _num(RFT.learning_rate)),
            ("lora_rank", self.lora_rank, "training_config.lora_rank", RFT.lora_rank),
            ("max_context_length", self.max_context_length, "training_config.max_context_length",
             RFT.max_context_length),
            ("batch_size (tokens)", self.batch_size, "training_config.batch_size", RFT.batch_size_tokens),
            ("n (group size)", self.n, "inference_parameters.response_candidates_count",
             RFT.response_candidates_count),
            ("max_output_tokens", self.max_output_tokens, "inference_parameters.max_output_tokens",
             RFT.max_output_tokens),
            ("temperature", "service default" if self.temperature is None else self.temperature,
             "inference_parameters.temperature", "service default"),
            ("chunk_size", self.chunk_size, "chunk_size", RFT.chunk_size),
            ("loss_method", self.loss_method, "loss_config.method", RFT.loss_method),
        ]
        if self.wandb is not None:
            rows.append(("wandb", f"{self.wandb.entity or '(key owner)'}/{self.wandb.project}", "wandb_config",
                         "not set"))
        lines = ["| setting | value | SDK field | upstream recipe |", "|---|---|---|---|"]
        for name, value, sdk, upstream in rows:
            changed = " (changed)" if str(value) != str(upstream) and name not in ("dataset", "evaluator") else ""
            lines.append(f"| {name} | `{value}`{changed} | `{sdk}` | `{upstream}` |")
        lines.append("")
        lines.append(f"Upstream also passes `--accelerator-count {RFT.accelerator_count}`: eval-protocol 0.3.33 "
                     "and fireworks-ai 1.2.30 have no such field, so it is not sent (one node is the default).")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()


# --------------------------------------------------------------------------- checks
def longest_prompt_tokens(rows: Sequence[Mapping[str, Any]]) -> int:
    """The longest prompt among ``rows``, in tokens, estimated as characters / 4 (no tokenizer needed)."""
    longest = 0
    for row in rows:
        chars = sum(len(str(m.get("content") or "")) for m in row.get("messages") or () if isinstance(m, Mapping))
        longest = max(longest, chars)
    return math.ceil(longest / DATASET.chars_per_token)


def check_spec(spec: RftJobSpec, *, rows: Sequence[Mapping[str, Any]] | None = None,
               session: "PlatformSession | None" = None, launching: bool = False) -> SpecCheck:
    """Find what would make the job fail, or learn nothing, before anything is sent.

    Args:
        spec: The job spec.
        rows: The training rows (their count and prompt lengths are checked against the spec).
        session: Also check the account (free ``GET`` requests): the dataset is READY, the
            evaluator ACTIVE, a judge secret stored, the output model name free, the base model there.
        launching: The check is for a new launch (what :func:`svgkit.rft.launch_job` asks): an output
            model written by the recorded job is then an error, not a warning.

    Returns:
        The problems found; :meth:`SpecCheck.raise_if_failed` turns errors into a :class:`SpecError`.
    """
    problems = _local_problems(spec, rows)
    count = len(rows) if rows is not None else None
    if session is None:
        return SpecCheck(tuple(problems), False, count)
    more, counted = _account_problems(spec, session, rows_known=rows is not None, launching=launching)
    if count is None and counted is not None:
        count = counted
        problems += _row_problems(spec, counted)
    where = "the stand-in" if session.rehearsal else "Fireworks"
    return SpecCheck(tuple(problems + more), True, count, where)


def _local_problems(spec: RftJobSpec, rows: Sequence[Mapping[str, Any]] | None) -> list[SpecProblem]:
    out: list[SpecProblem] = []
    add = out.append
    if spec.n < 2:
        add(SpecProblem("n", f"the group size is {spec.n}: GRPO scores each answer against the other answers to "
                        "the same prompt, so it needs at least 2 (the recipe uses 8)"))
    if spec.max_output_tokens < 1:
        add(SpecProblem("max_output_tokens", "must be at least 1"))
    elif spec.max_output_tokens >= spec.max_context_length:
        add(SpecProblem("max_output_tokens", f"{spec.max_output_tokens} leaves no room for the prompt within "
                        f"max_context_length {spec.max_context_length}: lower max_output_tokens or raise "
                        "max_context_length"))
    elif rows:
        prompt = longest_prompt_tokens(rows)
        if prompt + spec.max_output_tokens > spec.max_context_length:
            add(SpecProblem("max_output_tokens", f"the longest training prompt (about {prompt} tokens) plus "
                            f"max_output_tokens {spec.max_output_tokens} exceeds max_context_length "
                            f"{spec.max_context_length}: lower max_output_tokens to at most "
                            f"{spec.max_context_length - prompt}, or raise max_context_length"))
    lo, hi = RFT.epochs_range
    if spec.epochs < 1:
        add(SpecProblem("epochs", f"is {spec.epochs}: train for at least 1 epoch"))
    elif spec.epochs > hi:
        add(SpecProblem("epochs", f"{spec.epochs} is above Fireworks' documented range {lo}-{hi}: more passes over "
                        "50 prompts mostly memorise them", "warning"))
    lr_lo, lr_hi = RFT.learning_rate_range
    if not spec.learning_rate > 0:
        add(SpecProblem("learning_rate", "must be above 0 (the recipe uses 3e-5)"))
    elif not lr_lo <= spec.learning_rate <= lr_hi:
        add(SpecProblem("learning_rate", f"{_num(spec.learning_rate)} is outside Fireworks' documented range "
                        f"{_num(lr_lo)}-{_num(lr_hi)}", "warning"))
    r_lo, r_hi = RFT.lora_rank_range
    if spec.lora_rank < 1:
        add(SpecProblem("lora_rank", "must be at least 1 (the recipe uses 16)"))
    elif not (r_lo <= spec.lora_rank <= r_hi and spec.lora_rank & (spec.lora_rank - 1) == 0):
        add(SpecProblem("lora_rank", f"{spec.lora_rank} is not a power of 2 between {r_lo} and {r_hi} (Fireworks' "
                        "documented range)", "warning"))
    c_lo, c_hi = RFT.chunk_size_range
    if not c_lo <= spec.chunk_size <= c_hi:
        add(SpecProblem("chunk_size", f"{spec.chunk_size} is outside the valid range {c_lo}-{c_hi}"))
    if spec.batch_size < spec.max_context_length:
        add(SpecProblem("batch_size", f"{spec.batch_size} tokens per batch is less than max_context_length "
                        f"{spec.max_context_length}: one full-length rollout would not fit in a batch", "warning"))
    if spec.temperature is not None:
        if spec.temperature <= 0:
            add(SpecProblem("temperature", "must be above 0: with greedy decoding the n answers to a prompt are the "
                            "same, so every group has zero spread and nothing is learned"))
        elif spec.temperature < 0.1:
            add(SpecProblem("temperature", f"{spec.temperature} is nearly greedy: the n answers will hardly differ, "
                            "so groups will have little spread", "warning"))
    if spec.top_p is not None and not 0 < spec.top_p <= 1:
        add(SpecProblem("top_p", "must be above 0 and at most 1"))
    if spec.loss_method not in LOSS_METHODS:
        add(SpecProblem("loss_method", f"{spec.loss_method!r} is not an RL loss method: use one of "
                        f"{', '.join(LOSS_METHODS)}"))
    if not _MODEL_RX.fullmatch(spec.base_model):
        add(SpecProblem("base_model", f"{spec.base_model!r} is not a model name like accounts/fireworks/models/<id>"))
    for name, value in (("output_model", spec.output_model), ("evaluator", spec.evaluator),
                        ("job_id", spec.job_id), ("dataset", spec.dataset)):
        if value is not None and not _ID_RX.fullmatch(value.rsplit("/", 1)[-1]):
            add(SpecProblem(name, f"{value!r} is not a valid id: use 1-63 lower-case letters, digits and hyphens"))
    if spec.wandb is not None:
        if not spec.wandb.project:
            add(SpecProblem("wandb", "set a W&B project, or drop wandb"))
        if not os.environ.get("WANDB_API_KEY"):
            add(SpecProblem("wandb", "WANDB_API_KEY is not set: set it (Fireworks logs to W&B with it), or drop "
                            "wandb"))
    if rows is not None:
        out += _row_problems(spec, len(rows))
    return out


def _row_problems(spec: RftJobSpec, count: int) -> list[SpecProblem]:
    if count == 0:
        return [SpecProblem("dataset", "has no rows: run notebook 01 to write the training rows")]
    if count < spec.chunk_size:
        return [SpecProblem("chunk_size", f"the dataset has {count} rows, fewer than one chunk (chunk_size "
                            f"{spec.chunk_size}): lower chunk_size to at most {count}, or add rows")]
    return []


def _account_problems(spec: RftJobSpec, session: "PlatformSession", *, rows_known: bool,
                      launching: bool) -> tuple[list[SpecProblem], int | None]:
    api = session.api
    where = "the stand-in" if session.rehearsal else "Fireworks"
    out: list[SpecProblem] = []
    counted = None
    if not spec.dataset:
        out.append(SpecProblem("dataset", "no dataset yet: upload the training rows first (upload_training_rows)"))
    else:
        ds = api.get_dataset(spec.dataset)
        if ds is None:
            out.append(SpecProblem("dataset", f"{spec.dataset} does not exist on {where}: rerun the upload cell"))
        elif not ds.ready:
            out.append(SpecProblem("dataset", f"{spec.dataset} is {ds.state}, not READY: rerun the upload cell, "
                                   "which waits for it"))
        elif not rows_known:
            counted = ds.example_count
    ev = api.get_evaluator(spec.evaluator)
    if ev is None:
        out.append(SpecProblem("evaluator", f"{spec.evaluator} does not exist on {where}: run notebook 03, which "
                               "uploads it"))
    elif ev.state == "BUILDING":
        out.append(SpecProblem("evaluator", f"{spec.evaluator} is still BUILDING: wait until notebook 03's upload "
                               "cell reports ACTIVE, then rerun this cell"))
    elif not ev.active:
        out.append(SpecProblem("evaluator", f"{spec.evaluator} is {ev.state}, not ACTIVE: read its build log in "
                               "notebook 03, fix the cause and upload it again"))
    if not any(api.secret_exists(name) for name in RFT.judge_secret_names):
        out.append(SpecProblem("judge secret", f"the account has none of the secrets "
                               f"{', '.join(RFT.judge_secret_names)}: the evaluator could not call the vision judge, "
                               "so rollouts would be scored by the offline rule judge, a poor training reward; store "
                               "the judge's key with notebook 03's secret cell"))
    model = api.get_model(spec.output_model)
    if model is not None:
        from .launch import load_job_record  # launch imports this module

        record = load_job_record(session)
        if not launching and record is not None and model.fine_tuning_job.rsplit("/", 1)[-1] == record.job_id:
            out.append(SpecProblem("output_model", f"{spec.output_model} was written by the recorded job "
                                   f"{record.job_id}: rerunning the launch cell reattaches to it; a new job needs "
                                   f"another name, e.g. {_next_name(spec.output_model)}", "warning"))
        else:
            out.append(SpecProblem("output_model", f"{spec.output_model} already exists on {where} (an earlier job "
                                   f"wrote it): choose another name, e.g. {_next_name(spec.output_model)}"))
    if _MODEL_RX.fullmatch(spec.base_model) and api.get_model(spec.base_model) is None:
        out.append(SpecProblem("base_model", f"{spec.base_model} is not visible to this account on {where}: check "
                               "the name in the model library"))
    return out, counted


def _next_name(name: str) -> str:
    m = re.fullmatch(r"(.*-v)(\d+)", name)
    return f"{m.group(1)}{int(m.group(2)) + 1}" if m else f"{name}-v2"


def _resource(account_id: str, kind: str, value: str) -> str:
    return value if value.startswith("accounts/") else f"accounts/{account_id}/{kind}/{value}"


def _num(x: float) -> str:
    """A float as the CLI and tables show it: 3e-05 -> 3e-05, 0.8 -> 0.8."""
    return repr(float(x)) if not float(x).is_integer() else str(int(x))
