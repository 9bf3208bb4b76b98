"""SVGBench and the bundled tutorial data, as Eval Protocol rows.

- :func:`load_svgbench` downloads SVGBench's ``questions.json`` from a pinned commit, checks
  its sha256 and caches it; offline it falls back to the bundled set (or raises, if strict).
- :func:`load_bundled_prompts` / :func:`load_examples` read the data written for this
  tutorial (``svgkit/data``): original prompts and hand-written, labelled example responses.
  The example responses are **not model outputs**.
- :func:`to_eval_rows` converts prompts into the exact JSONL rows of the upstream Eval
  Protocol quickstart (``svgbench_dataset.jsonl``), which Fireworks RFT consumes;
  :func:`write_rows` / :func:`read_rows` write and validate such files.
- :func:`split_prompts` makes the deterministic train/holdout split and flags near-duplicates.
"""

import hashlib
import http.client
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_cache_dir

from .config import DATASET

__all__ = [
    "DatasetError",
    "DownloadError",
    "Example",
    "LoadedPrompts",
    "Prompt",
    "RowProblem",
    "RowValidationError",
    "Source",
    "Split",
    "examples_to_rows",
    "find_near_duplicates",
    "format_prompt",
    "load_bundled_prompts",
    "load_examples",
    "load_prompts",
    "load_svgbench",
    "read_rows",
    "split_prompts",
    "svgbench_cache_path",
    "to_eval_rows",
    "validate_rows",
    "write_rows",
]

#: Where a set of prompts came from: downloaded SVGBench, its cached copy, or the bundled prompts.
Source = Literal["svgbench-download", "svgbench-cache", "bundled"]


class DatasetError(RuntimeError):
    """Base class of dataset errors."""


class DownloadError(DatasetError):
    """SVGBench could not be downloaded, or what arrived is not the pinned file."""


@dataclass(frozen=True)
class Prompt:
    """One drawing task: a prompt and the visual requirements a judge checks.

    Attributes:
        id: Stable id (``svgbench-0`` ... or the bundled id such as ``sc01``).
        prompt: The task sentence, e.g. "Write `svg` code for an image of a toy rocket."
        requirements: 7 to 15 concrete visual requirements.
        category: Category (bundled prompts carry their own; SVGBench ones are classified
            by :func:`svgkit.stats.categorize`).
        index: Position in its source file.
    """

    id: str
    prompt: str
    requirements: tuple[str, ...]
    category: str | None = None
    index: int = 0


@dataclass(frozen=True)
class Example:
    """A hand-written example response to a bundled prompt, with per-requirement labels.

    Labels were set by rendering the SVG through the reward's pipeline and looking at the
    picture.

    Attributes:
        example_id: Stable id, e.g. ``sc01-a``.
        prompt_id: The bundled prompt it answers.
        quality: How good the author meant it to be.
        faults: Deliberate faults (``invalid_xml``, ``text_only``, ...).
        response: The full answer text, as a chat model would write it.
        labels: One label per requirement (``True``: the picture clearly fulfils it).
        label_notes: Judgement calls and relabelling history.
        labelled_png_sha256: sha256 of the PNG the labels were made on, ``None`` when the
            answer draws nothing; :func:`svgkit.calibrate.label_drift` compares it with
            today's render.
    """

    example_id: str
    prompt_id: str
    quality: Literal["good", "partial", "poor"]
    faults: tuple[str, ...]
    response: str
    labels: tuple[bool, ...]
    label_notes: str = ""
    labelled_png_sha256: str | None = None


@dataclass(frozen=True)
class LoadedPrompts:
    """What :func:`load_svgbench` / :func:`load_prompts` returns.

    Attributes:
        prompts: The prompts, in file order.
        source: ``svgbench-download``, ``svgbench-cache`` or ``bundled``.
        notice: A one-line explanation when the result is not what was asked for
            (e.g. offline fallback), else ``None``.
    """

    prompts: tuple[Prompt, ...]
    source: Source
    notice: str | None = None

    def __len__(self) -> int:
        return len(self.prompts)


# --------------------------------------------------------------------------- bundled data
def _data_text(name: str) -> str:
    return resources.files("svgkit").joinpath("data", name).read_text(encoding="utf-8")


def load_bundled_prompts() -> tuple[Prompt, ...]:
    """The original prompts bundled with svgkit (the offline default and calibration set)."""
    prompts = []
    for index, line in enumerate(_data_text("prompts.jsonl").splitlines()):
        if line.strip():
            raw = json.loads(line)
            prompts.append(Prompt(raw["id"], raw["prompt"], tuple(raw["requirements"]), raw["category"], index))
    return tuple(prompts)


def load_examples() -> tuple[Example, ...]:
    """The bundled example responses with their per-requirement labels.

    These are written for the tutorial (some deliberately faulty), not model outputs.
    """
    examples = []
    for line in _data_text("examples.jsonl").splitlines():
        if line.strip():
            raw = json.loads(line)
            examples.append(
                Example(
                    example_id=raw["example_id"],
                    prompt_id=raw["prompt_id"],
                    quality=raw["quality"],
                    faults=tuple(raw["faults"]),
                    response=raw["response"],
                    labels=tuple(raw["labels"]),
                    label_notes=raw.get("label_notes", ""),
                    labelled_png_sha256=raw.get("labelled_png_sha256"),
                )
            )
    return tuple(examples)


# --------------------------------------------------------------------------- SVGBench download
def svgbench_cache_path(cache_dir: Path | str | None = None) -> Path:
    """Where the pinned SVGBench file is cached (the user cache directory by default)."""
    base = Path(cache_dir) if cache_dir else Path(user_cache_dir("svgkit"))
    return base / "svgbench" / DATASET.svgbench_commit[:12] / "questions.json"


def _parse_questions(data: bytes) -> tuple[Prompt, ...]:
    items = json.loads(data.decode("utf-8"))
    if not isinstance(items, list):
        raise DatasetError("SVGBench questions.json should hold a JSON list of {prompt, requirements}")
    return tuple(
        Prompt(f"svgbench-{i}", item["prompt"], tuple(item["requirements"]), None, i)
        for i, item in enumerate(items)
    )


def _download(url: str, *, timeout: float, expected_sha256: str, expected_bytes: int | None) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - pinned https URL
            # never read more than the pinned size (+1 to notice a larger file)
            data = response.read(expected_bytes + 1) if expected_bytes is not None else response.read()
            declared = response.headers.get("Content-Length")
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise DownloadError(f"could not download SVGBench from {url}: {reason}") from exc
    if expected_bytes is not None and len(data) != expected_bytes:
        raise DownloadError(
            f"SVGBench download is {len(data)} bytes, expected {expected_bytes}: "
            "partial or changed file; nothing was cached"
        )
    if declared is not None and int(declared) != len(data):
        raise DownloadError(f"partial download: got {len(data)} of {declared} bytes from {url}; try again")
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise DownloadError(
            f"SVGBench checksum mismatch (sha256 {digest[:16]}..., expected {expected_sha256[:16]}...): "
            "nothing was cached; check the URL or pinned commit in svgkit.config.DATASET"
        )
    return data


def load_svgbench(
    *,
    url: str = DATASET.svgbench_url,
    sha256: str = DATASET.svgbench_sha256,
    expected_bytes: int | None = DATASET.svgbench_bytes,
    cache_dir: Path | str | None = None,
    timeout: float = DATASET.download_timeout_s,
    strict: bool = False,
) -> LoadedPrompts:
    """Load the SVGBench questions: from the cache, else by download, else the bundled set.

    The download is pinned to one commit and checked against its sha256 before it is cached
    (atomically), so a partial or altered file is never cached or used.

    Args:
        url: Where to download from (the pinned raw GitHub URL by default).
        sha256: Expected checksum of the file.
        expected_bytes: Expected size, or ``None`` to skip the size check.
        cache_dir: Cache folder (default: the user cache directory).
        timeout: Network timeout in seconds.
        strict: Raise instead of falling back to the bundled prompts when the download fails.

    Returns:
        The prompts and where they came from; ``notice`` says why when it fell back.

    Raises:
        DownloadError: The download failed or did not match, and ``strict`` is set.
    """
    path = svgbench_cache_path(cache_dir)
    if path.is_file():
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            return LoadedPrompts(_parse_questions(data), "svgbench-cache")
        path.unlink()  # a stale or tampered cache is dropped and fetched again
    try:
        data = _download(url, timeout=timeout, expected_sha256=sha256, expected_bytes=expected_bytes)
    except DownloadError as exc:
        if strict:
            raise
        bundled = load_bundled_prompts()
        notice = f"SVGBench not available ({exc}); using the {len(bundled)} bundled prompts instead."
        return LoadedPrompts(bundled, "bundled", notice)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return LoadedPrompts(_parse_questions(data), "svgbench-download")


def load_prompts(*, mode: Literal["offline", "live"] | None = None, **kwargs: Any) -> LoadedPrompts:
    """The prompts a notebook works on: SVGBench when live, the bundled set offline.

    Args:
        mode: ``"live"`` or ``"offline"``; by default the ``dataset`` step's mode from
            :func:`svgkit.config.get_settings`.
        **kwargs: Passed to :func:`load_svgbench` when live. Under ``SVGKIT_MODE=live`` the
            download is ``strict`` unless you say otherwise: live was asked for, so a failed
            download raises instead of quietly falling back to the bundled prompts.

    Raises:
        DownloadError: The download failed and ``strict`` is set (by default under ``SVGKIT_MODE=live``).
    """
    if mode is None:
        from .config import get_settings

        settings = get_settings()
        mode = settings.mode("dataset")
        if settings.forced_mode == "live":
            kwargs.setdefault("strict", True)
    if mode == "offline":
        return LoadedPrompts(load_bundled_prompts(), "bundled")
    return load_svgbench(**kwargs)


# --------------------------------------------------------------------------- Eval Protocol rows
_EXAMPLE_BLOCK = (
    "```svg\n"
    '<svg viewBox="0 0 100 100" width="100" height="100">\n'
    '    <circle cx="50" cy="50" r="40" fill="red" />\n'
    "</svg>\n"
    "```"
)


def format_prompt(prompt: str, requirements: Sequence[str]) -> str:
    """The user message of a row, formatted exactly as the upstream quickstart does."""
    numbered = "\n".join(f"{i}. {req}" for i, req in enumerate(requirements, start=1))
    return (
        f"{prompt} Wrap the SVG code in an SVG code block following the example below.\n\n"
        f"Example:\n{_EXAMPLE_BLOCK}\n\nRequirements:\n{numbered}"
    )


def to_eval_rows(prompts: Iterable[Prompt], *, extra_metadata: bool = False) -> list[dict[str, Any]]:
    """Convert prompts into Eval Protocol dataset rows (the upstream quickstart format).

    Each row is ``{"messages": [user message], "input_metadata": {"row_id": "row_<index>",
    "dataset_info": {original_prompt, requirements, total_requirements, formatted_prompt}}}``.
    SVGBench items 0-49 give exactly the upstream ``svgbench_dataset.jsonl``.

    Args:
        prompts: Prompts to convert; ``row_<index>`` uses each prompt's ``index``.
        extra_metadata: Also record ``prompt_id`` and ``category`` in ``dataset_info``
            (useful for bundled data; leave off for files exchanged with upstream).
    """
    rows = []
    for p in prompts:
        formatted = format_prompt(p.prompt, p.requirements)
        info: dict[str, Any] = {
            "original_prompt": p.prompt,
            "requirements": list(p.requirements),
            "total_requirements": len(p.requirements),
            "formatted_prompt": formatted,
        }
        if extra_metadata:
            info["prompt_id"] = p.id
            info["category"] = p.category
        rows.append(
            {
                "messages": [{"role": "user", "content": formatted}],
                "input_metadata": {"row_id": f"row_{p.index}", "dataset_info": info},
            }
        )
    return rows


def examples_to_rows(examples: Iterable[Example], prompts: Iterable[Prompt]) -> list[dict[str, Any]]:
    """Rows whose assistant answer is already in place: one per bundled example response.

    This is Eval Protocol's path for pre-generated answers (score them with
    ``NoOpRolloutProcessor``). ``row_id`` is the example id; ``dataset_info`` carries the
    labels so results can be compared with them.
    """
    by_id = {p.id: p for p in prompts}
    rows = []
    for ex in examples:
        if ex.prompt_id not in by_id:
            raise DatasetError(f"example {ex.example_id} refers to unknown prompt {ex.prompt_id!r}")
        (row,) = to_eval_rows([by_id[ex.prompt_id]], extra_metadata=True)
        row["messages"].append({"role": "assistant", "content": ex.response})
        row["input_metadata"]["row_id"] = ex.example_id
        row["input_metadata"]["dataset_info"].update(
            {"example_id": ex.example_id, "labels": list(ex.labels), "quality": ex.quality,
             "faults": list(ex.faults), "source": "bundled-example (hand-written, not model output)"}
        )
        rows.append(row)
    return rows


def write_rows(rows: Iterable[dict[str, Any]], path: Path | str) -> Path:
    """Write rows as JSONL (UTF-8, one JSON object per line, as upstream and Fireworks expect).

    Rows are validated first, so a bad file is never written.

    Raises:
        RowValidationError: A row is not a valid dataset row (says which and why).
    """
    rows = list(rows)
    problems = [p for i, row in enumerate(rows, 1) for p in _row_problems(row, i)]
    if problems:
        raise RowValidationError(problems)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class RowProblem:
    """One problem in a JSONL dataset file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class RowValidationError(DatasetError):
    """A dataset file has invalid rows; ``problems`` lists each with its line number."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} invalid row(s): {shown}{more}")


def _row_problems(row: Any, line: int) -> list[RowProblem]:
    out: list[RowProblem] = []

    def bad(message: str) -> None:
        out.append(RowProblem(line, message))

    if not isinstance(row, dict):
        bad("a row must be a JSON object")
        return out
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        bad("'messages' must be a non-empty list")
    else:
        for j, msg in enumerate(messages):
            if not isinstance(msg, dict) or msg.get("role") not in {"system", "user", "assistant", "tool"}:
                bad(f"messages[{j}] needs a role of system/user/assistant/tool")
            elif not isinstance(msg.get("content"), str):
                bad(f"messages[{j}].content must be a string")
        if isinstance(messages[0], dict) and messages[0].get("role") not in {"user", "system"}:
            bad("the first message must be the user prompt (or a system message)")
    meta = row.get("input_metadata")
    if not isinstance(meta, dict):
        bad("'input_metadata' must be an object with row_id and dataset_info")
        return out
    if not isinstance(meta.get("row_id"), str) or not meta.get("row_id"):
        bad("input_metadata.row_id must be a non-empty string")
    info = meta.get("dataset_info")
    if not isinstance(info, dict):
        bad("input_metadata.dataset_info must be an object")
        return out
    reqs = info.get("requirements")
    if not isinstance(reqs, list) or not reqs or not all(isinstance(r, str) and r.strip() for r in reqs):
        bad("dataset_info.requirements must be a non-empty list of strings")
    elif info.get("total_requirements") != len(reqs):
        bad(f"dataset_info.total_requirements is {info.get('total_requirements')!r} "
            f"but there are {len(reqs)} requirements")
    for key in ("original_prompt", "formatted_prompt"):
        if not isinstance(info.get(key), str) or not info.get(key):
            bad(f"dataset_info.{key} must be a non-empty string")
    return out


def validate_rows(path: Path | str) -> list[RowProblem]:
    """Check a JSONL dataset file; return every problem with its line number (empty if valid)."""
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(RowProblem(n, "empty line (JSONL needs one JSON object per line)"))
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(RowProblem(n, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        problems.extend(_row_problems(row, n))
        row_id = row.get("input_metadata", {}).get("row_id") if isinstance(row, dict) else None
        if isinstance(row_id, str):
            if row_id in seen:
                problems.append(RowProblem(n, f"duplicate row_id {row_id!r} (first on line {seen[row_id]})"))
            seen.setdefault(row_id, n)
    return problems


def read_rows(path: Path | str) -> list[dict[str, Any]]:
    """Read and validate a JSONL dataset file.

    Raises:
        FileNotFoundError: The file does not exist (run notebook 01 to write it).
        RowValidationError: Some rows are invalid (each problem gives its line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run notebook 01 (01_dataset_exploration) to write it")
    problems = validate_rows(path)
    if problems:
        raise RowValidationError(problems)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- split
@dataclass(frozen=True)
class Split:
    """A deterministic train/holdout split.

    Attributes:
        train: Prompts to train on.
        holdout: Prompts kept out of training, to measure generalisation.
        near_duplicates: ``(id_a, id_b, similarity)`` pairs that look like the same task.
        rule: How the split was made, in words.
    """

    train: tuple[Prompt, ...]
    holdout: tuple[Prompt, ...]
    near_duplicates: tuple[tuple[str, str, float], ...] = field(default=())
    rule: str = ""


_WORD = re.compile(r"[a-z0-9']+")


def _words(p: Prompt) -> set[str]:
    return set(_WORD.findall((p.prompt + " " + " ".join(p.requirements)).lower()))


def find_near_duplicates(
    prompts: Sequence[Prompt], *, threshold: float = DATASET.near_duplicate_threshold
) -> list[tuple[str, str, float]]:
    """Pairs of prompts whose words overlap at least ``threshold`` (Jaccard), most similar first."""
    words = [_words(p) for p in prompts]
    pairs = []
    for i in range(len(prompts)):
        for j in range(i + 1, len(prompts)):
            union = words[i] | words[j]
            sim = len(words[i] & words[j]) / len(union) if union else 0.0
            if sim >= threshold:
                pairs.append((prompts[i].id, prompts[j].id, round(sim, 3)))
    return sorted(pairs, key=lambda t: -t[2])


def split_prompts(
    prompts: Sequence[Prompt], *, train_count: int | None = None, holdout_share: float | None = None
) -> Split:
    """Split prompts into train and holdout, deterministically.

    SVGBench (ids ``svgbench-*``): the first ``train_count`` items (default 50, as upstream
    trains on items 0-49) and the rest as holdout. Bundled prompts: within each category the
    last ``holdout_share`` (default a third) goes to holdout, so both sides cover every category.

    Near-duplicate pairs are flagged in the result (SVGBench items 98 and 99 are one).
    """
    is_svgbench = all(p.id.startswith("svgbench-") for p in prompts)
    if train_count is not None or is_svgbench:
        count = DATASET.svgbench_train_count if train_count is None else train_count
        if not 0 < count <= len(prompts):
            raise ValueError(f"train_count must be between 1 and {len(prompts)}, got {count}")
        train, holdout = tuple(prompts[:count]), tuple(prompts[count:])
        rule = f"first {count} prompts train, remaining {len(holdout)} holdout"
    else:
        share = DATASET.bundled_holdout_share if holdout_share is None else holdout_share
        by_cat: dict[str, list[Prompt]] = {}
        for p in prompts:
            by_cat.setdefault(p.category or "other", []).append(p)
        held: set[str] = set()
        for group in by_cat.values():
            k = round(len(group) * share)
            held.update(p.id for p in group[len(group) - k:])
        train = tuple(p for p in prompts if p.id not in held)
        holdout = tuple(p for p in prompts if p.id in held)
        rule = f"per category, the last {share:.0%} of prompts are holdout"
    return Split(train, holdout, tuple(find_near_duplicates(prompts)), rule)
