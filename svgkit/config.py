"""Every model id, URL, price, limit and default of svgkit, defined once.

Notebooks and library code read their settings from here, never from literals in cells.

Mode
----
Each step of the tutorial runs *live* only when the keys it needs are present:

==============  ==========================  ==========================================
step            live needs                  offline instead
==============  ==========================  ==========================================
``dataset``     any key (and network)       bundled prompts written for this tutorial
``generate``    ``FIREWORKS_API_KEY``       bundled example responses (not model output)
``judge``       ``OPENAI_API_KEY``          deterministic rule judge, no network
``upload``      ``FIREWORKS_API_KEY``       shows what would be uploaded, uploads nothing
``rft``         ``FIREWORKS_API_KEY``       shows the job spec, launches nothing
==============  ==========================  ==========================================

``SVGKIT_MODE=offline`` forces every step offline even with keys set; ``SVGKIT_MODE=live``
makes a step whose key is missing raise :class:`MissingKeyError` instead of quietly
falling back. A ``.env`` file in the working directory or a parent is read if present
(values already in the environment win).

The judge's key may also come from ``SVGKIT_JUDGE_API_KEY`` (it wins over ``OPENAI_API_KEY``),
for a vision judge on another endpoint such as Fireworks (``SVGKIT_JUDGE_BASE_URL``).
Paid steps also need the notebook's explicit opt-in (:func:`with_spending`).

Keys are held in :class:`Secret`, whose ``repr`` and ``str`` only say whether it is set.
"""

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values, find_dotenv

__all__ = [
    "DATASET",
    "EVALUATION",
    "FILES",
    "JUDGE",
    "LIMITS",
    "MODELS",
    "DatasetConfig",
    "EvaluationConfig",
    "JudgeConfig",
    "Limits",
    "Models",
    "OutputFiles",
    "PLATFORM",
    "PlatformConfig",
    "RftConfig",
    "PRICES",
    "RFT",
    "REHEARSAL",
    "RehearsalConfig",
    "STEPS",
    "MissingKeyError",
    "ModeRow",
    "PAID_STEPS",
    "Secret",
    "Settings",
    "describe_mode",
    "get_settings",
    "output_dir",
    "output_path",
    "with_spending",
]

Mode = Literal["offline", "live"]
Step = Literal["dataset", "generate", "judge", "upload", "rft"]


# --------------------------------------------------------------------------- models and URLs
@dataclass(frozen=True)
class Models:
    """Model ids and endpoints used by the tutorial."""

    #: Base model that RFT trains (upstream quickstart: qwen3-0p6b).
    training_base: str = "accounts/fireworks/models/qwen3-0p6b"
    #: Policy that notebook 02 evaluates before any training spend (upstream's evaluation test model).
    eval_policy: str = "accounts/fireworks/models/gpt-oss-120b"
    #: Vision judge (upstream uses gpt-4.1 on OpenAI).
    judge: str = "gpt-4.1"
    fireworks_base_url: str = "https://api.fireworks.ai/inference/v1"
    openai_base_url: str = "https://api.openai.com/v1"
    #: Prefix litellm (used by Eval Protocol's rollout processors) needs for Fireworks models.
    litellm_fireworks_prefix: str = "fireworks_ai/"
    #: Prefix litellm needs for any other OpenAI-compatible server (sends no provider key).
    litellm_generic_prefix: str = "hosted_vllm/"


MODELS = Models()


@dataclass(frozen=True)
class DatasetConfig:
    """Where SVGBench comes from and how it is split."""

    svgbench_commit: str = "dd42e2caf71104ff1ae096b339321b67c52fc4a8"
    svgbench_url: str = (
        "https://raw.githubusercontent.com/johnbean393/SVGBench/"
        "dd42e2caf71104ff1ae096b339321b67c52fc4a8/questions/questions.json"
    )
    svgbench_sha256: str = "79a8e2c9bede076ae947d8b3e5fabf35d0194ee44de22506d1eb06ef821f7994"
    svgbench_bytes: int = 135_416
    download_timeout_s: float = 20.0
    #: Upstream trains on SVGBench items 0-49; the rest (50-104) is the holdout.
    svgbench_train_count: int = 50
    #: Share of each category of the bundled set kept for holdout.
    bundled_holdout_share: float = 1 / 3
    #: Word-set similarity above which two prompts are flagged as near-duplicates.
    near_duplicate_threshold: float = 0.6
    #: Rough characters per token for cost estimates (no tokenizer download needed).
    chars_per_token: float = 4.0


DATASET = DatasetConfig()


@dataclass(frozen=True)
class Limits:
    """Bounds applied to untrusted model output (see svgkit.svg and svgkit.render)."""

    max_svg_bytes: int = 2_000_000
    max_depth: int = 64
    max_elements: int = 20_000
    max_use_expansion: int = 50_000
    default_canvas: tuple[int, int] = (800, 600)
    max_side: int = 1024
    render_timeout_s: float = 5.0
    render_memory_mb: int = 1024
    #: How deep ``data:image/svg+xml`` images may nest inside each other.
    max_nested_svg_images: int = 2
    #: Time a new render worker may take to start (imports, font cache) before it counts as failed.
    worker_start_timeout_s: float = 60.0
    #: Longest model response :func:`svgkit.svg.extract_svg` reads; only the first this many
    #: characters are searched (``Extraction.clipped`` says when the rest was ignored).
    max_response_chars: int = 1_000_000


LIMITS = Limits()


@dataclass(frozen=True)
class JudgeConfig:
    """Defaults of the judges."""

    temperature: float = 0.0
    max_retries: int = 4
    retry_base_delay_s: float = 1.0
    retry_max_total_s: float = 60.0
    request_timeout_s: float = 60.0
    concurrency: int = 4
    #: Bumped whenever the judge prompt changes, so cached verdicts are not reused (v2: system
    #: message with the judging rules, transcription and written-only flags in the output).
    prompt_version: str = "v2"
    #: Share of the canvas that must differ from the background for a picture to count as drawn.
    min_ink_share: float = 0.002
    #: A drawing whose ink bounding box covers less than this share of the canvas is flagged tiny.
    tiny_drawing_share: float = 0.02
    #: Per-channel difference from the background colour that counts as ink.
    ink_tolerance: int = 24
    #: File name of the verdict cache (in the user cache dir unless SVGKIT_JUDGE_CACHE is set).
    cache_filename: str = "judge-cache.sqlite"
    #: A requirement counts as written out as text when this share of its word pairs is in the SVG text...
    written_pair_share: float = 0.5
    #: ... or this share of its content words (hack guard).
    written_word_share: float = 0.85
    #: Rule judge: bumped whenever its rules change (part of its cache key).
    rule_version: str = "r3"
    #: Rule judge: share of the pixels a colour must cover to count as present.
    colour_presence_share: float = 0.0001
    #: Rule judge: share of a region's pixels a colour must cover to count as present there.
    region_presence_share: float = 0.004
    #: Rule judge: a requirement with more unexplained content words than this stays undecided.
    rule_max_residual_words: int = 2
    # --- hack guards against noise and swatches (svgkit.guards.clutter_stats, on the text-free picture).
    # Measured on the bundled examples: honest drawings have colour boundaries on at most 5.6% of
    # their pixels, spread over at most 49% of the grid; 2,000 random shapes give 18-23% and 94-100%.
    #: Noise: at least this share of the pixels lies on a boundary between two colours...
    noise_edge_share: float = 0.09
    #: ... spread over at least this share of a 16 x 12 grid's cells.
    noise_edge_spread: float = 0.7
    #: Swatches: a patch whose larger side is under this share of the canvas's larger side is small...
    swatch_max_side: float = 0.025
    #: ... and at least this many small patches ...
    swatch_min_patches: int = 8
    #: ... holding at least this share of what is drawn make a picture of swatches.
    swatch_share: float = 0.6
    # --- what the rule judge counts as seen (svgkit.judge.evidence)
    #: A text counts as visible when at least this share of its glyph pixels...
    text_visible_share: float = 0.3
    #: ... differ from the picture without the text by at least this much (0-255, per channel).
    text_min_contrast: int = 40
    #: A colour counts in a region or on a shape only as a patch that a square of this share of the
    #: canvas's shorter side fits into (scattered pixels, thin lines and tiny swatches do not).
    solid_patch_share: float = 0.01
    #: Neighbouring pixels that differ by more than this (0-255, a channel) are an edge: an outline
    #: or a shape's border, not a gradient (what a label must sit on or beside to belong to an object).
    edge_contrast: int = 12
    #: Rule judge: at most this many ``<text>`` elements are read; with more, text requirements stay undecided.
    rule_max_texts: int = 300
    #: Rule judge: seconds of work on one answer; past it, what is not decided stays undecided, with the reason.
    rule_budget_s: float = 2.0


JUDGE = JudgeConfig()


@dataclass(frozen=True)
class EvaluationConfig:
    """Defaults of generation and local evaluation."""

    temperature: float = 0.8
    max_tokens: int = 4096
    samples_per_prompt: int = 1
    concurrency: int = 4
    max_retries: int = 3
    request_timeout_s: float = 120.0
    #: First backoff delay; doubled on every further retry (with jitter).
    retry_base_delay_s: float = 1.0
    #: Longest single wait between two attempts, also the cap on a server's ``Retry-After``.
    retry_max_delay_s: float = 30.0
    #: Input tokens of one formatted SVGBench-style prompt (requirements and example included).
    est_prompt_tokens: float = 250.0
    #: Whether a render that fails because of the SVG itself (cairo error, nesting too deep, a
    #: timeout) is a *valid* 0 that penalises the policy. Default ``False``, as upstream: every
    #: render failure is an invalid score (a timeout on a busy machine is not the answer's fault).
    content_render_failure_valid: bool = False
    #: Rough size of a response, for cost estimates before anything is spent.
    est_completion_tokens: int = 1500
    #: Rough image + prompt input of one judge call.
    est_judge_input_tokens: int = 1200
    est_judge_output_tokens: int = 350


EVALUATION = EvaluationConfig()


@dataclass(frozen=True)
class RftConfig:
    """Reinforcement fine-tuning defaults (upstream quickstart values)."""

    base_model: str = MODELS.training_base
    epochs: int = 1
    learning_rate: float = 1e-4
    lora_rank: int = 8
    max_context_length: int = 8192
    response_candidates_count: int = 8
    temperature: float = 0.8
    max_tokens: int = 4096


RFT = RftConfig()

#: USD per million tokens (input, output). Checked 2026-11; see the providers' pricing pages.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "accounts/fireworks/models/gpt-oss-120b": (0.15, 0.60),
    "accounts/fireworks/models/qwen3-0p6b": (0.10, 0.10),
}


@dataclass(frozen=True)
class RehearsalConfig:
    """How notebooks 03-05 rehearse their Fireworks steps offline (see :mod:`svgkit.rehearsal`)."""

    #: Simulated seconds per wall-clock second on the local stand-in: an 8-epoch job in seconds.
    speed: float = 600.0
    #: Where the stand-in keeps its resources, relative to :func:`output_dir`.
    state_dir: str = "standin"


REHEARSAL = RehearsalConfig()


@dataclass(frozen=True)
class PlatformConfig:
    """The Fireworks control plane (REST API) and dashboard, and how long svgkit waits on it.

    Used by :mod:`svgkit.fireworks_api`. The base URL can be overridden with
    ``FIREWORKS_API_BASE`` (what eval-protocol reads) or ``FIREWORKS_BASE_URL`` (what the
    ``fireworks`` SDK reads); a notebook's rehearsal points both at :mod:`svgkit.standin.fireworks`.
    Dashboard paths are relative to the app host that belongs to the API host.
    """

    api_base: str = "https://api.fireworks.ai"
    app_base: str = "https://app.fireworks.ai"
    #: Dashboard pages, as eval-protocol 0.3.33 prints them (cli_commands/utils.py ``_print_links``).
    evaluator_dashboard: str = "/dashboard/evaluators/{id}"
    dataset_dashboard: str = "/dashboard/datasets/{id}"
    rft_job_dashboard: str = "/dashboard/fine-tuning/reinforcement/{id}"
    #: Not printed by eval-protocol; the same pattern, unverified against the live dashboard.
    deployment_dashboard: str = "/dashboard/deployments/{id}"
    model_dashboard: str = "/dashboard/models/{id}"
    #: Where a user makes or replaces an API key (unverified path on the app host).
    api_keys_page: str = "/settings/users/api-keys"
    request_timeout_s: float = 30.0
    #: Retries of the ``fireworks`` SDK on 408/409/429/5xx and connection errors (it honours Retry-After).
    max_retries: int = 2
    poll_interval_s: float = 10.0
    dataset_ready_timeout_s: float = 600.0
    evaluator_build_timeout_s: float = 1800.0
    deployment_ready_timeout_s: float = 1800.0
    rft_job_timeout_s: float = 12 * 3600.0
    #: Largest signed download (build log, uploaded source) svgkit reads.
    max_download_bytes: int = 64_000_000
    #: Lines of the build log shown when a build fails.
    build_log_tail_lines: int = 40


PLATFORM = PlatformConfig()


@dataclass(frozen=True)
class OutputFiles:
    """Names of what the notebooks write, relative to :func:`output_dir`."""

    train: str = "data/train.jsonl"
    holdout: str = "data/holdout.jsonl"
    example_rows: str = "data/example_rows.jsonl"
    generations: str = "generations.jsonl"
    ep_results: str = "ep_results"


FILES = OutputFiles()


# --------------------------------------------------------------------------- secrets and mode
class MissingKeyError(RuntimeError):
    """A step was asked to run live but the key it needs is not set."""


class Secret:
    """An API key that never shows itself: ``repr`` and ``str`` only tell whether it is set."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def get(self) -> str | None:
        """Return the key itself, for the one place that sends it."""
        return self._value

    def __bool__(self) -> bool:
        return self._value is not None

    def __repr__(self) -> str:
        return "Secret(set)" if self._value else "Secret(unset)"

    __str__ = __repr__

    def __reduce__(self):  # pragma: no cover - guards against pickling a key into files
        raise TypeError("Secret cannot be pickled")


STEPS: dict[str, tuple[str | None, str, str]] = {
    # step: (key it needs, what live does, what offline does)
    "dataset": (None, "downloads SVGBench (pinned commit, checksum, cache)",
                "uses the bundled prompts written for this tutorial"),
    "generate": ("FIREWORKS_API_KEY", f"samples answers from {MODELS.eval_policy} on Fireworks",
                 "uses bundled example responses (hand-written, not model output)"),
    "judge": ("OPENAI_API_KEY", f"asks the vision judge {MODELS.judge}",
              "uses the deterministic rule judge (no network)"),
    "upload": ("FIREWORKS_API_KEY", "uploads dataset and evaluator to Fireworks (opt-in per cell)",
               "shows what would be uploaded, uploads nothing"),
    "rft": ("FIREWORKS_API_KEY", "launches an RFT job on Fireworks (opt-in per cell, costs money)",
            "shows the job spec, launches nothing"),
}


#: Steps that cost money or cannot be undone: live only with keys *and* an explicit opt-in.
PAID_STEPS: frozenset[str] = frozenset({"generate", "judge", "upload", "rft"})


@dataclass(frozen=True)
class ModeRow:
    """One line of the mode banner."""

    step: str
    mode: Mode
    needs: str
    does: str


@dataclass(frozen=True)
class Settings:
    """Environment-derived settings. Build with :func:`get_settings`."""

    forced_mode: Mode | None = None
    fireworks_api_key: Secret = field(default_factory=lambda: Secret(None))
    #: The vision judge's key: ``SVGKIT_JUDGE_API_KEY`` if set (e.g. a Fireworks key for a judge
    #: on Fireworks), else ``OPENAI_API_KEY``.
    judge_api_key: Secret = field(default_factory=lambda: Secret(None))
    fireworks_account_id: str | None = None
    judge_model: str = MODELS.judge
    judge_base_url: str = MODELS.openai_base_url
    generation_base_url: str = MODELS.fireworks_base_url
    #: The Fireworks control plane (``FIREWORKS_API_BASE``, else ``FIREWORKS_BASE_URL``).
    fireworks_api_base: str = PLATFORM.api_base
    #: ``False`` keeps every paid step (generate, judge, upload, rft) offline even with keys set:
    #: notebooks pass their cell's explicit opt-in here (see :func:`with_spending`).
    spend_allowed: bool = True

    def key_for(self, step: Step) -> Secret:
        """The key ``step`` needs (an unset Secret for steps that need none)."""
        name = STEPS[step][0]
        if name == "FIREWORKS_API_KEY":
            return self.fireworks_api_key
        if name == "OPENAI_API_KEY":
            return self.judge_api_key
        return Secret("not-needed")

    def mode(self, step: Step) -> Mode:
        """Whether ``step`` runs live or offline.

        Raises:
            MissingKeyError: ``SVGKIT_MODE=live`` was set but the key the step needs is missing.
        """
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; choose one of {', '.join(STEPS)}")
        if self.forced_mode == "offline":
            return "offline"
        if step in PAID_STEPS and not self.spend_allowed:
            return "offline"
        has_key = bool(self.key_for(step))
        if self.forced_mode == "live" and not has_key:
            raise MissingKeyError(
                f"SVGKIT_MODE=live but {STEPS[step][0]} is not set: put it in the environment or .env, "
                "or unset SVGKIT_MODE to fall back to offline mode."
            )
        if step == "dataset":
            return "live" if (self.forced_mode == "live" or bool(self.fireworks_api_key)
                              or bool(self.judge_api_key)) else "offline"
        return "live" if has_key else "offline"


def get_settings(env: dict[str, str] | None = None, *, read_dotenv: bool = True) -> Settings:
    """Read settings from the environment (and ``.env`` when present).

    Args:
        env: Mapping to read instead of ``os.environ`` (tests pass their own).
        read_dotenv: Also read the nearest ``.env`` file; environment values win.

    Raises:
        ValueError: ``SVGKIT_MODE`` is set to something other than ``offline`` or ``live``.
    """
    values: dict[str, str] = {}
    if read_dotenv and env is None:
        path = find_dotenv(usecwd=True)
        if path:
            values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update(os.environ if env is None else env)
    forced = (values.get("SVGKIT_MODE") or "").strip().lower() or None
    if forced not in (None, "offline", "live"):
        raise ValueError(f"SVGKIT_MODE must be 'offline' or 'live', not {forced!r}")
    return Settings(
        forced_mode=forced,  # type: ignore[arg-type]
        fireworks_api_key=Secret(values.get("FIREWORKS_API_KEY")),
        judge_api_key=Secret(values.get("SVGKIT_JUDGE_API_KEY") or values.get("OPENAI_API_KEY")),
        fireworks_account_id=values.get("FIREWORKS_ACCOUNT_ID") or None,
        judge_model=values.get("SVGKIT_JUDGE_MODEL") or MODELS.judge,
        judge_base_url=values.get("SVGKIT_JUDGE_BASE_URL") or MODELS.openai_base_url,
        generation_base_url=values.get("SVGKIT_GENERATION_BASE_URL") or MODELS.fireworks_base_url,
        fireworks_api_base=(values.get("FIREWORKS_API_BASE") or values.get("FIREWORKS_BASE_URL")
                            or PLATFORM.api_base).rstrip("/"),
    )


def describe_mode(settings: Settings | None = None) -> list[ModeRow]:
    """One row per step: its mode now, the key it needs and what it will do.

    Never contains a key, only whether it is set.
    """
    settings = settings or get_settings()
    rows = []
    for step, (key, live, offline) in STEPS.items():
        mode = settings.mode(step)  # type: ignore[arg-type]
        needs = key or "network only"
        if key:
            needs += " (set)" if settings.key_for(step) else " (not set)"  # type: ignore[arg-type]
        does = live if mode == "live" else offline
        if mode == "offline" and step in PAID_STEPS and settings.key_for(step) and not settings.spend_allowed:  # type: ignore[arg-type]
            does += " (key set, but spending is not enabled in this notebook)"
        rows.append(ModeRow(step, mode, needs, does))
    return rows


def with_spending(allow: bool, settings: Settings | None = None) -> Settings:
    """Settings whose paid steps run live only if ``allow`` is true (and their keys are set).

    Notebooks call this with a flag the reader sets in the cell, so nothing is spent by
    running a notebook top to bottom: ``settings = with_spending(ALLOW_SPEND)``.
    """
    return replace(settings or get_settings(), spend_allowed=bool(allow))


def output_dir(*, create: bool = True) -> Path:
    """The one folder where notebooks write what they produce.

    ``SVGKIT_OUTPUT_DIR`` if set; otherwise ``outputs/`` in the svgkit project checkout that
    contains the working directory; otherwise ``./svgkit-outputs``.
    """
    configured = os.environ.get("SVGKIT_OUTPUT_DIR")
    if configured:
        path = Path(configured).expanduser()
    else:
        path = Path.cwd() / "svgkit-outputs"
        for parent in [Path.cwd(), *Path.cwd().parents]:
            pyproject = parent / "pyproject.toml"
            if pyproject.is_file() and 'name = "svgkit"' in pyproject.read_text(errors="replace"):
                path = parent / "outputs"
                break
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def output_path(name: str, *, create_parent: bool = True) -> Path:
    """A file in :func:`output_dir`, e.g. ``output_path(FILES.train)``."""
    path = output_dir(create=create_parent) / name
    if create_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path
