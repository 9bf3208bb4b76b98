"""The per-step training table: one format for the RFT miniature and for a live RFT job.

A :class:`TrainingLog` is a list of :class:`TrainingStep` rows, one per training step, with
the run they belong to. The miniature (:mod:`svgkit.minirft`) writes one as it trains; a
live Fireworks job's metrics are converted to one, from its Weights & Biases history
(:func:`log_from_history`) or from the ``(step, reward)`` points the job reports
(:func:`log_from_points`). Notebooks 04 and 05 read and plot either the same way
(:func:`svgkit.plots.training_curve_figure`).

Columns (``None`` where a source does not say):

=====================  ==================================================================
column                 meaning
=====================  ==================================================================
``run``                which run the row belongs to (a label)
``source``             ``miniature`` (the offline bandit), ``wandb`` or ``job``
``step``               training step (0-based in the miniature; as reported live)
``epoch``              passes over the training set completed when the step ended
``reward_mean``        mean reward of the step's samples
``reward_std``         their standard deviation (population)
``zero_spread_share``  share of the step's groups whose samples all scored the same
                       (GRPO learns nothing from them)
``kl_to_start``        KL divergence of the policy from the starting policy, after the step
``entropy``            entropy of the policy, after the step (nats)
``samples``            samples scored in the step (groups x n)
``pass_rates``         per requirement kind (:data:`svgkit.judge.REQUIREMENT_KINDS`), the
                       share of the step's sampled requirements fulfilled
``extra``              anything else numeric (the miniature's ``paste_share``, ...)
=====================  ==================================================================

Files: JSON Lines (``.jsonl``, one row per line, ``pass_rates`` and ``extra`` as objects) or
CSV (``.csv``, those two flattened into ``pass_rate.<kind>`` and ``extra.<name>`` columns),
chosen by the file's suffix (:func:`write_log`, :func:`read_log`).
"""

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .config import TRAINING_LOG

__all__ = [
    "CORE_COLUMNS",
    "TrainingLog",
    "TrainingStep",
    "epoch_boundaries",
    "log_from_history",
    "log_from_points",
    "moving_average",
    "read_log",
    "write_log",
]

#: The scalar columns, in file order (``pass_rates`` and ``extra`` follow them).
CORE_COLUMNS: tuple[str, ...] = ("run", "source", "step", "epoch", "reward_mean", "reward_std",
                                 "zero_spread_share", "kl_to_start", "entropy", "samples")

_PASS = "pass_rate."
_EXTRA = "extra."


@dataclass(frozen=True)
class TrainingStep:
    """One row of the training table (see the module docs for each column).

    Attributes:
        run: The run's label.
        source: ``miniature``, ``wandb`` or ``job``.
        step: The training step.
        reward_mean: Mean reward of the step's samples.
        epoch: Passes over the training set completed when the step ended.
        reward_std: Standard deviation of the step's rewards.
        zero_spread_share: Share of groups whose samples all scored the same.
        kl_to_start: KL divergence from the starting policy after the step.
        entropy: Policy entropy after the step (nats).
        samples: Samples scored in the step.
        pass_rates: Per requirement kind, the share of sampled requirements fulfilled.
        extra: Other numeric metrics by name.
    """

    run: str
    source: str
    step: int
    reward_mean: float
    epoch: float | None = None
    reward_std: float | None = None
    zero_spread_share: float | None = None
    kl_to_start: float | None = None
    entropy: float | None = None
    samples: int | None = None
    pass_rates: Mapping[str, float] = field(default_factory=dict)
    extra: Mapping[str, float] = field(default_factory=dict)

    def value(self, column: str) -> float | None:
        """A numeric column by name: a core column, ``pass_rate.<kind>`` or ``extra.<name>``.

        Raises:
            KeyError: No such column.
        """
        if column.startswith(_PASS):
            return self.pass_rates.get(column[len(_PASS):])
        if column.startswith(_EXTRA):
            return self.extra.get(column[len(_EXTRA):])
        if column in CORE_COLUMNS and column not in ("run", "source"):
            v = getattr(self, column)
            return None if v is None else float(v)
        raise KeyError(f"no numeric column {column!r}: use one of {', '.join(CORE_COLUMNS[2:])}, "
                       f"{_PASS}<kind> or {_EXTRA}<name>")

    def to_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready dict (``pass_rates`` and ``extra`` nested)."""
        d = asdict(self)
        d["pass_rates"], d["extra"] = dict(self.pass_rates), dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainingStep":
        """Read a row written by :meth:`to_dict` (or a flat CSV row)."""
        pass_rates = {str(k): float(v) for k, v in (d.get("pass_rates") or {}).items()}
        extra = {str(k): float(v) for k, v in (d.get("extra") or {}).items()}
        for k, v in d.items():  # flat (CSV) form
            if k.startswith(_PASS) and _num(v) is not None:
                pass_rates[k[len(_PASS):]] = _num(v)  # type: ignore[assignment]
            elif k.startswith(_EXTRA) and _num(v) is not None:
                extra[k[len(_EXTRA):]] = _num(v)  # type: ignore[assignment]
        reward = _num(d.get("reward_mean"))
        step = _num(d.get("step"))
        if reward is None or step is None:
            raise ValueError(f"a training-log row needs a numeric step and reward_mean, got {dict(d)!r:.200}")
        samples = _num(d.get("samples"))
        return cls(run=str(d.get("run") or ""), source=str(d.get("source") or ""), step=int(step),
                   reward_mean=reward, epoch=_num(d.get("epoch")), reward_std=_num(d.get("reward_std")),
                   zero_spread_share=_num(d.get("zero_spread_share")), kl_to_start=_num(d.get("kl_to_start")),
                   entropy=_num(d.get("entropy")), samples=None if samples is None else int(samples),
                   pass_rates=pass_rates, extra=extra)


def _num(v: Any) -> float | None:
    """A finite number, or ``None`` (empty CSV cells, missing keys, NaN, text)."""
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class TrainingLog:
    """A run's training table: its rows in step order.

    Attributes:
        steps: The rows.
    """

    steps: tuple[TrainingStep, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[TrainingStep]:
        return iter(self.steps)

    @property
    def run(self) -> str:
        """The run's label (of the first row; ``""`` when empty)."""
        return self.steps[0].run if self.steps else ""

    @property
    def source(self) -> str:
        """Where the rows came from (of the first row; ``""`` when empty)."""
        return self.steps[0].source if self.steps else ""

    @property
    def is_miniature(self) -> bool:
        """Whether these rows come from the offline miniature (a bandit, not a language model)."""
        return self.source == "miniature"

    def column(self, name: str) -> list[float | None]:
        """One numeric column (see :meth:`TrainingStep.value`), a value or ``None`` per row."""
        return [s.value(name) for s in self.steps]

    def columns(self) -> list[str]:
        """The numeric columns that have at least one value, core columns first."""
        core = [c for c in CORE_COLUMNS[2:] if any(s.value(c) is not None for s in self.steps)]
        kinds = sorted({k for s in self.steps for k in s.pass_rates})
        extras = sorted({k for s in self.steps for k in s.extra})
        return core + [_PASS + k for k in kinds] + [_EXTRA + k for k in extras]

    def to_rows(self) -> list[dict[str, Any]]:
        """Flat rows (CSV form): the core columns, then ``pass_rate.<kind>`` and ``extra.<name>``."""
        kinds = sorted({k for s in self.steps for k in s.pass_rates})
        extras = sorted({k for s in self.steps for k in s.extra})
        rows = []
        for s in self.steps:
            row: dict[str, Any] = {c: getattr(s, c) for c in CORE_COLUMNS}
            row.update({_PASS + k: s.pass_rates.get(k) for k in kinds})
            row.update({_EXTRA + k: s.extra.get(k) for k in extras})
            rows.append(row)
        return rows


def write_log(log: TrainingLog | Iterable[TrainingStep], path: str | Path) -> Path:
    """Write a training table as JSON Lines (``.jsonl``) or CSV (``.csv``), by the suffix.

    Raises:
        ValueError: The suffix is neither ``.jsonl`` nor ``.csv``.
    """
    log = log if isinstance(log, TrainingLog) else TrainingLog(tuple(log))
    path = Path(path)
    fmt = _format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        text = "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in log.steps)
    else:
        rows = log.to_rows()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else list(CORE_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        text = buffer.getvalue()
    path.write_text(text, encoding="utf-8")
    return path


def read_log(path: str | Path) -> TrainingLog:
    """Read a training table written by :func:`write_log` (``.jsonl`` or ``.csv``).

    Raises:
        FileNotFoundError: No such file.
        ValueError: The suffix is unknown, or a row has no numeric ``step``/``reward_mean``
            (the message gives the line).
    """
    path = Path(path)
    fmt = _format(path)
    text = path.read_text(encoding="utf-8")
    if fmt == "jsonl":
        raw: list[tuple[int, Mapping[str, Any]]] = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    raw.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path.name} line {n} is not JSON: {exc}") from None
    else:
        raw = [(n, row) for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2)]
    steps = []
    for n, row in raw:
        try:
            steps.append(TrainingStep.from_dict(row))
        except ValueError as exc:
            raise ValueError(f"{path.name} line {n}: {exc}") from None
    return TrainingLog(tuple(sorted(steps, key=lambda s: s.step)))


def _format(path: Path) -> Literal["jsonl", "csv"]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".csv"):
        return "jsonl" if suffix == ".jsonl" else "csv"
    raise ValueError(f"{path.name}: a training log is .jsonl or .csv, not {suffix or 'no suffix'!r}")


def _first(row: Mapping[str, Any], keys: Sequence[str]) -> float | None:
    for k in keys:
        v = _num(row.get(k))
        if v is not None:
            return v
    return None


def log_from_history(history: Iterable[Mapping[str, Any]], *, run: str, source: str = "wandb",
                     keys: Mapping[str, Sequence[str]] | None = None) -> TrainingLog:
    """Convert a metrics history (W&B ``run.history(pandas=False)`` rows, say) into a training table.

    Each column is read from the first of its candidate keys present in a row
    (:attr:`svgkit.config.TrainingLogConfig.history_keys`: Fireworks does not document the
    names it logs under, so they are guesses to check against a real run). Keys starting with
    ``pass_rate/`` become pass rates; other numeric keys are kept in ``extra``. Rows with no
    reward are skipped; the step is the row's ``_step`` (else its position).

    Args:
        history: The history rows, oldest first.
        run: The run's label (the job id, say).
        source: Where the rows came from.
        keys: Override the candidate keys of some columns (column -> keys).
    """
    names = {**TRAINING_LOG.history_keys, **(keys or {})}
    used = {k for ks in names.values() for k in ks}
    steps = []
    for i, row in enumerate(history):
        reward = _first(row, names["reward_mean"])
        if reward is None:
            continue
        step = _first(row, names["step"])
        samples = _first(row, names["samples"])
        pass_rates = {k.split("/", 1)[1]: v for k, v in row.items()
                      if k.startswith("pass_rate/") and _num(v) is not None}
        extra = {k: _num(v) for k, v in row.items() if k not in used and not k.startswith(("_", "pass_rate/"))
                 and _num(v) is not None}
        steps.append(TrainingStep(
            run=run, source=source, step=int(step) if step is not None else i, reward_mean=reward,
            epoch=_first(row, names["epoch"]), reward_std=_first(row, names["reward_std"]),
            zero_spread_share=_first(row, names["zero_spread_share"]), kl_to_start=_first(row, names["kl_to_start"]),
            entropy=_first(row, names["entropy"]), samples=int(samples) if samples is not None else None,
            pass_rates={k: float(v) for k, v in pass_rates.items()},
            extra={k: float(v) for k, v in extra.items() if v is not None}))
    return TrainingLog(tuple(sorted(steps, key=lambda s: s.step)))


def log_from_points(points: Iterable[tuple[float, float]], *, run: str, source: str = "job",
                    epochs: Sequence[float | None] | None = None) -> TrainingLog:
    """A training table from ``(step, reward)`` points (what a job or a dashboard reports).

    Args:
        points: ``(step, mean reward)`` pairs.
        run: The run's label.
        source: Where they came from.
        epochs: Optionally, the epoch of each point.

    Raises:
        ValueError: ``epochs`` is not as long as ``points``.
    """
    pts = [(float(s), float(r)) for s, r in points]
    if epochs is not None and len(epochs) != len(pts):
        raise ValueError(f"epochs has {len(epochs)} values for {len(pts)} points: give one per point")
    steps = [TrainingStep(run=run, source=source, step=int(s), reward_mean=r,
                          epoch=None if epochs is None else epochs[i]) for i, (s, r) in enumerate(pts)]
    return TrainingLog(tuple(sorted(steps, key=lambda s: s.step)))


# --------------------------------------------------------------------------- reading a curve
def moving_average(values: Sequence[float | None], window: int) -> list[float | None]:
    """Trailing moving average: each value's mean with the ``window - 1`` before it.

    Missing values (``None``) are skipped in the means and stay ``None``; the first values
    average over what there is so far.

    Raises:
        ValueError: ``window`` is less than 1.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, not {window}")
    out: list[float | None] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        recent = [x for x in values[max(0, i - window + 1):i + 1] if x is not None]
        out.append(sum(recent) / len(recent))
    return out


def epoch_boundaries(log: TrainingLog) -> list[float]:
    """Where one epoch ends and the next begins, as step positions halfway between two rows.

    A row belongs to epoch ``ceil(epoch)`` (``epoch`` counts passes completed, so 1.0 is the
    last row of the first epoch; an integer epoch index reported live works the same way).
    Rows without an epoch are ignored.
    """
    marks = []
    previous: tuple[int, int] | None = None
    for s in log.steps:
        if s.epoch is None:
            continue
        belongs = math.ceil(s.epoch - 1e-9)
        if previous is not None and belongs > previous[1]:
            marks.append((previous[0] + s.step) / 2)
        previous = (s.step, belongs)
    return marks
