"""Every model id, URL, price, limit and default of svgkit, defined once.

Notebooks and library code read their settings from here, never from literals in cells.

Mode
----
Each step of the tutorial runs *live* only when what it needs is there (the README's table
"Offline and live" says the same, and a test checks that it does):

==============  ===========================================  ==========================================
step            live needs                                   offline instead
==============  ===========================================  ==========================================
``dataset``     network only: ``SVGKIT_MODE=live`` or a key  bundled prompts written for this tutorial
``generate``    ``FIREWORKS_API_KEY`` and the opt-in         bundled example responses (not model output)
``judge``       ``OPENAI_API_KEY`` and the opt-in            deterministic rule judge, no network
``upload``      ``FIREWORKS_API_KEY`` and the opt-in         rehearsal on the local Fireworks stand-in
``rft``         ``FIREWORKS_API_KEY`` and the opt-in         rehearsal on the local Fireworks stand-in
==============  ===========================================  ==========================================
``SVGKIT_MODE=offline`` forces every step offline even with keys set; ``SVGKIT_MODE=live``
makes a step whose key is missing raise :class:`MissingKeyError` when it runs instead of
quietly falling back (the dataset step needs no key: it downloads, and a failed download
raises instead of falling back to the bundled prompts). The mode banner never raises: it
says which step would fail. A ``.env`` file in the working directory or a parent is read if
present (values already in the environment win).

The judge's key may also come from ``SVGKIT_JUDGE_API_KEY`` (it wins over ``OPENAI_API_KEY``),
for a vision judge on another endpoint such as Fireworks (``SVGKIT_JUDGE_BASE_URL``).
``SVGKIT_JUDGE=rule`` chooses the offline rule judge on purpose (the only way live rollouts are
ever scored by it: see :func:`svgkit.judge.choose_judge`); ``SVGKIT_JUDGE=vision`` insists on the
vision judge.
Paid steps also need the notebook's explicit opt-in (:func:`with_spending`): without it they
stay offline even with ``SVGKIT_MODE=live`` and keys, and the banner says live is held back.

Keys are held in :class:`Secret`, whose ``repr`` and ``str`` only say whether it is set.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, NamedTuple

from dotenv import dotenv_values, find_dotenv

__all__ = [
    "ANALYSIS",
    "DATASET",
    "DEPLOYMENT",
    "EVALUATION",
    "EVALUATOR_ID",
    "FILES",
    "GPU_PRICES",
    "HTTP",
    "JUDGE",
    "LIMITS",
    "MINIRFT",
    "MODELS",
    "MODEL_PARAMETERS",
    "PAID_STEPS",
    "PLATFORM",
    "PRICES",
    "REHEARSAL",
    "RFT",
    "RFT_PRICING",
    "ROLLOUT_SERVER",
    "STEPS",
    "STEP_KEYS",
    "TRAINING_LOG",
    "UPLOAD",
    "AnalysisConfig",
    "DatasetConfig",
    "DeploymentConfig",
    "EvaluationConfig",
    "GpuPrice",
    "HttpConfig",
    "JudgeChoiceName",
    "JudgeConfig",
    "Limits",
    "MiniRftDefaults",
    "MissingKeyError",
    "Mode",
    "ModeRow",
    "Models",
    "OutputFiles",
    "PlatformConfig",
    "RehearsalConfig",
    "RftConfig",
    "RftPricing",
    "RolloutServerConfig",
    "Secret",
    "Settings",
    "Step",
    "StepSpec",
    "TrainingLogConfig",
    "UploadConfig",
    "describe_mode",
    "get_settings",
    "output_dir",
    "output_path",
    "with_spending",
]

#: The two modes a step runs in, and the steps that have one (the keys of :data:`STEPS`).
Mode = Literal["offline", "live"]
#: What ``SVGKIT_JUDGE`` may choose.
JudgeChoiceName = Literal["rule", "vision"]
Step = Literal["dataset", "generate", "judge", "upload", "rft", "deploy"]


# --------------------------------------------------------------------------- models and URLs
@dataclass(frozen=True)
class Models:
    """Model ids and endpoints used by the tutorial."""

    #: Base model that RFT trains (upstream quickstart: qwen3-0p6b).
    training_base: str = "accounts/fireworks/models/qwen3-0p6b"
    #: Policy that notebook 02 evaluates before any training spend. Upstream's quickstart evaluator
    #: (``test_svgagent.py``) runs this strong model, so the reward is seen working on good answers
    #: before anything is trained; ``SVGKIT_EVAL_MODEL`` (e.g. :attr:`training_base`) swaps it.
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
    #: A render that fails because of the SVG is tried once more, on a fresh worker, with
    #: ``render_timeout_s`` times this; failing again makes it the SVG's fault for sure.
    render_retry_timeout_factor: float = 2.0
    render_memory_mb: int = 1024
    #: Largest glyph size (px, after every transform) handed to cairo; larger text is drawn at
    #: this size. FreeType fails at 65,536 px and cairo then keeps the font broken for the process.
    max_font_px: float = 16_384.0
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
    #: Hard wall-clock limit of one vision-judge request, body included (retries: :data:`HTTP`).
    request_timeout_s: float = 60.0
    #: Hard budget of one verdict's call, retries and waits included (its ``RetryPolicy.total_s``).
    call_deadline_s: float = 60.0
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
    #: Longest transcription of the picture's text kept from the vision judge's answer.
    max_transcription_chars: int = 4000
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
class HttpConfig:
    """Defaults of every OpenAI-compatible call (:mod:`svgkit.http_client`): generation, the vision judge.

    :class:`svgkit.http_client.RetryPolicy` takes its defaults from here; a caller overrides
    single fields (``RetryPolicy(max_retries=0)``).
    """

    #: Retries after the first attempt.
    max_retries: int = 3
    #: First backoff delay; doubled on every further retry, then jittered.
    retry_base_delay_s: float = 1.0
    #: Longest single wait between two attempts, also the cap on a server's ``Retry-After``.
    retry_max_delay_s: float = 30.0
    #: Hard wall-clock budget of one call, all attempts and waits included (for generation: the
    #: overall deadline of one sample). No attempt runs past it.
    retry_total_s: float = 300.0
    #: Each computed backoff is multiplied by a random factor in ``[1 - jitter, 1]``.
    retry_jitter: float = 0.5
    #: Statuses retried besides every 5xx: request timeout, conflict, rate limit (openai's own choice).
    retry_statuses: frozenset[int] = frozenset({408, 409, 429})
    #: Statuses that will fail every other request of a batch the same way (bad key, no access, no such model).
    fatal_statuses: frozenset[int] = frozenset({401, 403, 404})
    #: Generation stops asking after this many consecutive timeouts, dropped connections or 5xx.
    breaker_threshold: int = 5
    #: Longest error text kept in a record, a verdict or a log line.
    max_error_chars: int = 500
    #: Key scrubbing also removes every prefix of a key at least this long.
    min_secret_prefix: int = 8


HTTP = HttpConfig()


@dataclass(frozen=True)
class EvaluationConfig:
    """Defaults of generation and local evaluation."""

    temperature: float = 0.8
    max_tokens: int = 4096
    samples_per_prompt: int = 1
    concurrency: int = 4
    #: Hard wall-clock limit of one generation request, body included (see :data:`HTTP`).
    request_timeout_s: float = 120.0
    #: Input tokens of one formatted SVGBench-style prompt (requirements and example included).
    est_prompt_tokens: float = 250.0
    #: Whether a render that fails because of the SVG itself (a cairo error, a timeout, a crash)
    #: is a *valid* 0 that penalises the policy. Such a failure has already been retried once on
    #: a fresh worker with a longer limit (``LIMITS.render_retry_timeout_factor``), so a busy
    #: machine or a broken worker does not count against the answer. ``False`` scores every
    #: render failure invalid, as upstream, and Eval Protocol then drops those rows: the policy
    #: never learns that answers which crash or hang the renderer are bad.
    content_render_failure_valid: bool = True
    #: Rough size of a response, for cost estimates before anything is spent.
    est_completion_tokens: int = 1500
    #: Rough image + prompt input of one judge call.
    est_judge_input_tokens: int = 1200
    est_judge_output_tokens: int = 350


EVALUATION = EvaluationConfig()


#: The evaluator's id on Fireworks: notebook 03 uploads it, notebook 04 trains with it.
EVALUATOR_ID = "svgkit-svg-drawing"


@dataclass(frozen=True)
class RftConfig:
    """Reinforcement fine-tuning (notebook 04, :mod:`svgkit.rft`): the upstream recipe and svgkit's limits.

    The job defaults are the upstream quickstart's recipe: github.com/eval-protocol/quickstart,
    README section "Launch Reinforcement Fine Tuning" (its ``eval-protocol create rft`` command),
    checked 2026-12-01. That command also passes ``--accelerator-count 1``: neither eval-protocol
    0.3.33's CLI nor fireworks-ai 1.2.30's ``TrainingConfig`` has that field, so it is recorded here
    and not sent (``node_count`` defaults to 1 node). Upstream sets no temperature: the service's
    default applies (0.7 per the parameter reference below).
    """

    base_model: str = MODELS.training_base
    output_model: str = "svgagent-rft-v1"
    epochs: int = 8
    learning_rate: float = 3e-5
    lora_rank: int = 16
    max_context_length: int = 65536
    #: ``training_config.batch_size``: the most tokens packed into one training batch.
    batch_size_tokens: int = 128_000
    #: The group size n (``inference_parameters.response_candidates_count``).
    response_candidates_count: int = 8
    max_output_tokens: int = 32768
    #: Rows per rollout chunk (``chunk_size``).
    chunk_size: int = 10
    accelerator_count: int = 1
    temperature: float | None = None
    #: The service's sampling temperature when none is set (the parameter reference below); the
    #: learning-signal check samples with it, as the job will.
    service_temperature: float = 0.7
    loss_method: str = "GRPO"
    #: The evaluator notebook 03 uploads (same id as its upload step).
    evaluator_id: str = EVALUATOR_ID
    #: Its entry point inside the uploaded bundle (used by the rehearsal's placeholder evaluator).
    evaluator_entry_point: str = "test_svg_drawing.py::test_svg_drawing"
    #: Secrets that carry the judge's key to the evaluator, strongest first (see :class:`Settings`).
    judge_secret_names: tuple[str, ...] = ("SVGKIT_JUDGE_API_KEY", "OPENAI_API_KEY")
    #: Dataset ids are ``<prefix>-<content hash>`` (see :func:`svgkit.fireworks_api.dataset_id_for`).
    dataset_prefix: str = "svgkit-train"
    #: Folder (relative to :func:`output_dir`) for the job state file and the signal check's files.
    state_dir: str = "rft"
    #: How long one run of the monitoring cell watches a live job before handing back (it keeps running).
    watch_timeout_s: float = 1800.0
    #: W&B history keys tried for the reward curve, in order (unverified: Fireworks does not document
    #: its key names; any key containing "reward" is the fallback).
    wandb_reward_keys: tuple[str, ...] = ("train/reward", "reward/mean", "reward_mean", "reward")
    #: Valid ranges from Fireworks' RFT parameter reference
    #: (https://fireworks.ai/docs/fine-tuning/rft-parameters-reference, checked 2026-12-01).
    epochs_range: tuple[int, int] = (1, 10)
    learning_rate_range: tuple[float, float] = (1e-5, 5e-4)
    lora_rank_range: tuple[int, int] = (4, 128)
    #: From the SDK's ``chunk_size`` docstring (fireworks-ai 1.2.30): "Valid range is 1-10,000".
    chunk_size_range: tuple[int, int] = (1, 10_000)
    #: Time-range assumptions (not measurements; upstream gives no duration): seconds per training
    #: step (one chunk of rows: generate n answers each, judge them, update the policy) ...
    est_step_s: tuple[float, float] = (120.0, 600.0)
    #: ... and fixed seconds per job (queue, validation, writing the model).
    est_overhead_s: tuple[float, float] = (600.0, 3600.0)


RFT = RftConfig()

@dataclass(frozen=True)
class UploadConfig:
    """The evaluator bundle, its preflight and its upload to Fireworks (notebook 03, :mod:`svgkit.upload`)."""

    #: Evaluator id on Fireworks (lower-case letters, digits and hyphens; at most 63 characters).
    evaluator_id: str = EVALUATOR_ID
    #: Where the evaluator lives in the checkout; staged at the bundle's top level as :attr:`entry_file`.
    evaluator_module: str = "svgkit/evaluator.py"
    entry_file: str = "test_svg_drawing.py"
    entry_function: str = "test_svg_drawing"
    #: Staging folder, relative to :func:`output_dir`.
    bundle_dir: str = "evaluator_bundle"
    #: Top folder inside the reproducible tarball: the staging folder's name, as eval-protocol's tarball has it.
    tarball_root: str = "evaluator_bundle"
    #: Every staged file gets this modification time (2000-01-01 UTC), so the bundle is reproducible.
    fixed_mtime: int = 946_684_800
    #: Largest bundle (sum of file sizes) staging accepts; svgkit's code and data are about 0.6 MB.
    max_bundle_bytes: int = 5_000_000
    #: Base image and conventions of the upstream quickstart's evaluator Dockerfile
    #: (eval-protocol/quickstart, evaluator/Dockerfile, checked 2026-11).
    docker_base_image: str = "python:3.11-slim"
    #: Debian packages the image needs: cairo for cairosvg, Liberation fonts for browser-like text.
    apt_packages: tuple[str, ...] = ("libcairo2", "fonts-liberation", "fontconfig")
    #: What ``ep local-test`` passes to pytest (eval-protocol 0.3.33, cli_commands/local_test.py):
    #: an all-zero score fails.
    success_threshold: float = 0.001
    #: Longest the preflight's pytest run may take.
    preflight_timeout_s: float = 600.0
    #: Longest ``pip install -r requirements.txt`` may take when building the preflight venv.
    venv_build_timeout_s: float = 1200.0
    #: Folder (in the user cache dir) holding preflight venvs, one per requirements.txt hash.
    venv_cache_dir: str = "preflight-venvs"
    #: Marker in the evaluator's description that records the bundle it was built from.
    bundle_hash_marker: str = "svgkit-bundle-sha256:"


UPLOAD = UploadConfig()


@dataclass(frozen=True)
class RftPricing:
    """What Fireworks charges for RFT training itself (a dated fact, with its source)."""

    #: RFT training is free below this many base-model parameters.
    free_below_parameters: float = 16e9
    fact: str = "Reinforcement Fine-Tuning (RFT) is free for models under 16B parameters."
    source_url: str = "https://docs.fireworks.ai/fine-tuning/managed-finetuning-intro"
    checked: str = "2026-12-01"
    pricing_page: str = "https://fireworks.ai/pricing"


RFT_PRICING = RftPricing()

#: Parameter counts of the base models svgkit knows (Qwen3-0.6B model card: 0.6B parameters).
MODEL_PARAMETERS: dict[str, float] = {
    "accounts/fireworks/models/qwen3-0p6b": 0.6e9,
}

@dataclass(frozen=True)
class TrainingLogConfig:
    """How a live job's metrics history maps onto :mod:`svgkit.training_log` columns.

    Unverified: Fireworks does not document the metric names an RFT job logs to Weights &
    Biases, so each column lists candidate keys, tried in order. Check them against a real
    run's history and put the right one first.
    """

    history_keys: dict[str, tuple[str, ...]] = field(default_factory=lambda: {
        "step": ("_step", "step", "train/step", "global_step"),
        "epoch": ("epoch", "train/epoch"),
        "reward_mean": ("train/reward", "reward/mean", "reward_mean", "reward", "train/reward_mean"),
        "reward_std": ("reward/std", "reward_std", "train/reward_std"),
        "zero_spread_share": ("zero_spread_share", "frac_reward_zero_std", "train/frac_reward_zero_std"),
        "kl_to_start": ("kl", "train/kl", "kl_to_ref", "kl_to_start"),
        "entropy": ("entropy", "train/entropy"),
        "samples": ("samples", "num_samples", "train/num_samples"),
    })


TRAINING_LOG = TrainingLogConfig()


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
    #: Wall seconds between two polls of a wait in a rehearsal.
    poll_s: float = 0.25


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
class MiniRftDefaults:
    """Defaults of the RFT miniature (:mod:`svgkit.minirft`): a softmax bandit, not a language model.

    Sized so the default run (prompts x candidates, each scored once, then ``steps`` cheap
    updates) takes well under a minute on 2 cores: ``python -m svgkit.bench --minirft``.
    """

    #: 24 steps of 5 prompts over 10 prompts: 12 epochs.
    steps: int = 24
    seed: int = 0
    #: Bundled prompts it trains on (every category; sc08's candidates all score 0 under the rule
    #: judge, ic01's nearly all 0.1: the zero-spread lesson). About 160 candidates in all.
    prompt_ids: tuple[str, ...] = ("sc02", "sc08", "ui03", "ui08", "dg02", "dg05", "dg08", "ic01", "ic07", "ic08")
    #: Prompts per step (the training set is reshuffled at each epoch and taken in batches).
    prompts_per_step: int = 5
    #: Samples per prompt per step: GRPO's group size (upstream ``response_candidates_count``).
    group_size: int = 8
    learning_rate: float = 3.0
    #: Weight of the KL penalty towards the starting policy.
    kl_coef: float = 0.05
    #: GRPO's epsilon in ``(r - mean) / (std + eps)``.
    advantage_eps: float = 1e-6
    #: Candidates scored at once.
    concurrency: int = 2


MINIRFT = MiniRftDefaults()


@dataclass(frozen=True)
class OutputFiles:
    """Names of what the notebooks write, relative to :func:`output_dir`."""

    train: str = "data/train.jsonl"
    holdout: str = "data/holdout.jsonl"
    example_rows: str = "data/example_rows.jsonl"
    generations: str = "generations.jsonl"
    ep_results: str = "ep_results"


FILES = OutputFiles()


# --------------------------------------------------------------------------- serving and results (notebook 05)
@dataclass(frozen=True)
class GpuPrice:
    """What one GPU of a Fireworks on-demand deployment costs per hour: a dated fact with its source.

    Attributes:
        usd_per_hour: US dollars per GPU-hour (billed per GPU-second).
        source: Where the figure comes from.
        checked: When it was read (ISO date).
        verified: Whether it was read on Fireworks' own current pricing page. ``False``: check
            https://fireworks.ai/pricing before you deploy.
    """

    usd_per_hour: float
    source: str
    checked: str
    verified: bool = False


#: Fireworks on-demand deployments are billed per GPU-second while a replica is up (docs:
#: https://docs.fireworks.ai/guides/ondemand-deployments). None of these prices could be read on
#: fireworks.ai/pricing itself here (no web access): the H100/H200/B200 figures come from a third
#: party's transcription of that page, the A100 figure from an older stored copy of it. Unverified.
GPU_PRICES: dict[str, GpuPrice] = {
    "NVIDIA_H100_80GB": GpuPrice(8.00, "fireworks.ai/pricing as transcribed by github.com/api-evangelist/fireworks-ai "
                                 "(plans/fireworks-ai-plans-pricing.yml, page read 2026-10-07)", "2026-12-01"),
    "NVIDIA_H200_141GB": GpuPrice(8.00, "fireworks.ai/pricing as transcribed by github.com/api-evangelist/fireworks-ai "
                                  "(plans/fireworks-ai-plans-pricing.yml, page read 2026-10-07)", "2026-12-01"),
    "NVIDIA_B200_180GB": GpuPrice(13.00, "fireworks.ai/pricing as transcribed by "
                                  "github.com/api-evangelist/fireworks-ai (plans/fireworks-ai-plans-pricing.yml, "
                                  "page read 2026-10-07)", "2026-12-01"),
    "NVIDIA_A100_80GB": GpuPrice(3.89, "an older stored copy of fireworks.ai/pricing (\"$3.89 per hour for one NVIDIA "
                                 "A100 80 GB GPU\"; its date is unknown)", "2026-12-01"),
}


@dataclass(frozen=True)
class DeploymentConfig:
    """How notebook 05 serves a model on an on-demand deployment (:mod:`svgkit.deploy`).

    A LoRA output of RFT is served only on an on-demand deployment ("live merge": the deployment's
    base model is the LoRA model itself; docs: https://docs.fireworks.ai/fine-tuning/deploying-loras).
    One replica is kept up (``min_replica_count=1``) so the evaluation never waits on a cold start
    and the cost is plain: the hourly price until the deployment is deleted.
    """

    accelerator_type: str = "NVIDIA_H100_80GB"
    accelerator_count: int = 1
    min_replica_count: int = 1
    max_replica_count: int = 1
    #: Every deployment svgkit makes has an id starting with this, so cleanup finds it again.
    id_prefix: str = "svgkit-serve"
    #: Folder (relative to :func:`output_dir`) of the deployment state file.
    state_dir: str = "deploy"


DEPLOYMENT = DeploymentConfig()


@dataclass(frozen=True)
class AnalysisConfig:
    """Defaults of notebook 05's analyses (:mod:`svgkit.analysis`, :mod:`svgkit.before_after`, :mod:`svgkit.report`)."""

    #: Samples per holdout prompt from each model (before and after).
    holdout_samples: int = 4
    #: Sampling temperature of the before/after samples (the RFT service's default, see ``RFT``).
    holdout_temperature: float = 0.7
    #: Output tokens per sample (upstream's RFT allows 32,768; this keeps the holdout run bounded).
    holdout_max_tokens: int = 8192
    confidence: float = 0.95
    bootstrap_resamples: int = 10_000
    bootstrap_seed: int = 0
    #: Bins of the score histograms, shared by before and after (scores lie in [0, 1]).
    histogram_bins: int = 10
    #: Prompts shown in each of the galleries of gains and regressions.
    gallery_prompts: int = 3
    #: A requirement counts as fixed when its pass rate crosses this from below, broken from above.
    fixed_threshold: float = 0.5
    #: Folder (relative to :func:`output_dir`) of the before/after generations.
    holdout_dir: str = "holdout"
    report_file: str = "report.html"


ANALYSIS = AnalysisConfig()


# --------------------------------------------------------------------------- remote rollout server
@dataclass(frozen=True)
class RolloutServerConfig:
    """The remote rollout server (:mod:`svgkit.rollout_server`) and the evaluator's remote mode.

    Every server option can be set in the server's environment as ``SVGKIT_ROLLOUT_<NAME>``
    (``SVGKIT_ROLLOUT_MAX_CONCURRENCY=64``; hosts comma-separated) or on its command line.
    Source of the gateway facts: eval-protocol 0.3.33 (``RemoteRolloutProcessor``,
    ``FireworksTracingHttpHandler``), read 2026-11.
    """

    #: Set (to the server's base URL) to make the evaluator post its rollouts to a remote server.
    url_env: str = "SVGKIT_ROLLOUT_SERVER_URL"
    #: Where the server calls the model and the processor reads status, logs and traces.
    model_base_url_env: str = "SVGKIT_ROLLOUT_MODEL_BASE_URL"
    #: Fireworks' tracing gateway: model proxy and log store (eval-protocol's default).
    gateway_url: str = "https://tracing.fireworks.ai"
    #: Prefix of every server option's environment variable.
    env_prefix: str = "SVGKIT_ROLLOUT_"
    #: Hosts a ``model_base_url`` may point at; anything else is refused (no calls to arbitrary URLs).
    allowed_model_hosts: tuple[str, ...] = ("tracing.fireworks.ai", "localhost", "127.0.0.1")
    #: Model calls in flight at once.
    max_concurrency: int = 32
    #: Accepted rollouts waiting for a slot; beyond concurrency + queue, ``/init`` answers 503.
    max_queued: int = 224
    #: One model call (the OpenAI client's timeout).
    model_timeout_s: float = 180.0
    #: The OpenAI client's own retries of 429, 5xx and connection errors (with backoff).
    model_max_retries: int = 2
    #: A whole rollout, retries included, once it has a slot.
    rollout_deadline_s: float = 240.0
    #: Admission first: a rollout starts its model call only after ``/init`` has been quiet this long...
    admission_quiet_s: float = 0.005
    #: ... or after waiting this long at most (so a steady stream of ``/init`` never starves the rollouts).
    admission_max_defer_s: float = 0.5
    #: ``Retry-After`` of a 503 from a saturated server.
    retry_after_s: int = 2
    #: Rollout ids remembered so a re-posted ``/init`` starts nothing new.
    remembered_rollouts: int = 100_000
    #: Largest ``/init`` body accepted.
    max_init_bytes: int = 4_000_000
    #: Model-name prefixes (litellm routing) removed before the OpenAI-compatible call.
    model_prefixes: tuple[str, ...] = ("fireworks_ai/", "hosted_vllm/")
    #: How often the evaluator's processor polls the gateway for a rollout's status.
    poll_interval_s: float = 1.0
    #: How long the processor waits for a terminal status (longer than ``rollout_deadline_s``).
    processor_timeout_s: float = 300.0
    #: Rollouts the evaluator keeps in flight in remote mode (the server bounds its own work).
    evaluator_concurrency: int = 16
    #: Prompt-only rows of the bundled examples, which the offline rehearsal posts to the server.
    rehearsal_rows: str = "data/remote_rehearsal_rows.jsonl"
    #: Where the offline rehearsal's evaluator writes its results (apart from ``FILES.ep_results``).
    rehearsal_results: str = "ep_results_remote"


ROLLOUT_SERVER = RolloutServerConfig()


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


class StepSpec(NamedTuple):
    """What one step needs to run live, and what it does in each mode (see :data:`STEPS`)."""

    #: The environment variable of the key it needs (``None``: no key, only network).
    key: str | None
    #: What the step does live.
    live: str
    #: What it does offline.
    offline: str


#: The tutorial's steps and what each needs to run live (the README's mode table; tests/test_readme.py).
STEPS: dict[str, StepSpec] = {
    "dataset": StepSpec(None, "downloads SVGBench (pinned commit, sha256, cache)",
                        "uses the bundled prompts written for this tutorial"),
    "generate": StepSpec("FIREWORKS_API_KEY", "samples answers from the evaluation policy on Fireworks",
                         "uses bundled example responses (hand-written, not model output)"),
    "judge": StepSpec("OPENAI_API_KEY", f"asks the vision judge (`{MODELS.judge}` unless `SVGKIT_JUDGE_MODEL` is set)",
                      "uses the deterministic rule judge (no network)"),
    "upload": StepSpec("FIREWORKS_API_KEY", "uploads dataset and evaluator to Fireworks (opt-in per cell)",
                       "rehearsal on a local stand-in; nothing leaves this machine"),
    "rft": StepSpec("FIREWORKS_API_KEY",
                    "uploads the training rows and launches an RFT job on Fireworks (opt-in per cell; "
                    "the judge's calls cost money, training qwen3-0p6b is free)",
                    "rehearses dataset, launch, monitoring, reattach and cancel on the local Fireworks "
                    "stand-in; nothing leaves this machine"),
    "deploy": StepSpec("FIREWORKS_API_KEY",
                       "serves the tuned model (and the base model where it is not serverless) on an on-demand "
                       "deployment, billed per GPU-second until the cleanup cell deletes it (opt-in per cell)",
                       "rehearses the deployment on the local Fireworks stand-in (it serves no answers); the "
                       "analyses run on the RFT miniature"),
}

#: Every environment variable that can carry each key (the judge's may also be SVGKIT_JUDGE_API_KEY).
STEP_KEYS: dict[str, tuple[str, ...]] = {
    "FIREWORKS_API_KEY": ("FIREWORKS_API_KEY",),
    "OPENAI_API_KEY": ("SVGKIT_JUDGE_API_KEY", "OPENAI_API_KEY"),
}


#: Steps that cost money or cannot be undone: live only with keys *and* an explicit opt-in.
PAID_STEPS: frozenset[str] = frozenset({"generate", "judge", "upload", "rft", "deploy"})


@dataclass(frozen=True)
class ModeRow:
    """One line of the mode banner.

    Attributes:
        step: The step's name (a key of :data:`STEPS`).
        mode: The mode it runs in now; ``live`` also when it will fail for a missing key.
        needs: The key it needs and whether it is set (never the key itself).
        does: What it does now, in words.
        held_back: Why it stays offline although live was asked for (``SVGKIT_MODE=live``)
            or its key is set: the notebook has not opted in to spending. ``None`` otherwise.
        error: The error it raises when it runs (``SVGKIT_MODE=live`` without its key), else ``None``.
    """

    step: str
    mode: Mode
    needs: str
    does: str
    held_back: str | None = None
    error: str | None = None


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
    #: The policy notebook 02 and the evaluator run live (``SVGKIT_EVAL_MODEL``; default
    #: :attr:`Models.eval_policy`, upstream's choice; :attr:`Models.training_base` is the untrained base).
    eval_model: str = MODELS.eval_policy
    #: The Fireworks control plane (``FIREWORKS_API_BASE``, else ``FIREWORKS_BASE_URL``).
    fireworks_api_base: str = PLATFORM.api_base
    #: ``False`` keeps every paid step (generate, judge, upload, rft) offline even with keys set:
    #: notebooks pass their cell's explicit opt-in here (see :func:`with_spending`).
    spend_allowed: bool = True
    #: The remote rollout server the evaluator posts to (``SVGKIT_ROLLOUT_SERVER_URL``), if any.
    rollout_server_url: str | None = None
    #: Where that server calls the model (``SVGKIT_ROLLOUT_MODEL_BASE_URL``, default the tracing gateway).
    rollout_model_base_url: str = ROLLOUT_SERVER.gateway_url
    #: The judge chosen on purpose (``SVGKIT_JUDGE``): ``"rule"`` (the offline rule judge, even with a
    #: judge key and for live rollouts), ``"vision"`` (the vision judge or an error), or ``None`` (by mode).
    judge_choice: JudgeChoiceName | None = None
    #: The environment variable the judge's key came from (``SVGKIT_JUDGE_API_KEY`` or ``OPENAI_API_KEY``).
    judge_key_env: str | None = None

    def key_for(self, step: Step) -> Secret:
        """The key ``step`` needs (a set placeholder Secret for steps that need none)."""
        name = STEPS[step].key
        if name == "FIREWORKS_API_KEY":
            return self.fireworks_api_key
        if name == "OPENAI_API_KEY":
            return self.judge_api_key
        return Secret("not-needed")

    def mode(self, step: Step) -> Mode:
        """Whether ``step`` runs live or offline.

        In order: ``SVGKIT_MODE=offline`` wins; a paid step (:data:`PAID_STEPS`) without the
        notebook's spending opt-in stays offline; ``SVGKIT_MODE=live`` without the step's key
        raises; otherwise the step is live when its key is set. The dataset step needs no key:
        it is live under ``SVGKIT_MODE=live`` or when any key is set (you are about to train on
        real data), offline otherwise.

        Raises:
            ValueError: ``step`` is not one of :data:`STEPS`.
            MissingKeyError: ``SVGKIT_MODE=live`` was set but the key the step needs is missing.
        """
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; choose one of {', '.join(STEPS)}")
        if self.forced_mode == "offline":
            return "offline"
        if step == "judge" and self.judge_choice == "rule":
            return "offline"
        if step in PAID_STEPS and not self.spend_allowed:
            return "offline"
        if step == "dataset":
            return "live" if (self.forced_mode == "live" or bool(self.fireworks_api_key)
                              or bool(self.judge_api_key)) else "offline"
        has_key = bool(self.key_for(step))
        if self.forced_mode == "live" and not has_key:
            names = " or ".join(STEP_KEYS.get(STEPS[step].key or "", ())[::-1])
            raise MissingKeyError(
                f"SVGKIT_MODE=live but {names} is not set, so the {step} step cannot run live: put the key "
                "in the environment or .env, or unset SVGKIT_MODE to fall back to offline mode."
            )
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
    chosen = (values.get("SVGKIT_JUDGE") or "").strip().lower() or None
    if chosen not in (None, "rule", "vision"):
        raise ValueError(f"SVGKIT_JUDGE must be 'rule' or 'vision' (or unset: by mode), not {chosen!r}")
    key_env = next((n for n in STEP_KEYS["OPENAI_API_KEY"] if values.get(n)), None)
    return Settings(
        forced_mode=forced,  # type: ignore[arg-type]
        fireworks_api_key=Secret(values.get("FIREWORKS_API_KEY")),
        judge_api_key=Secret(values.get("SVGKIT_JUDGE_API_KEY") or values.get("OPENAI_API_KEY")),
        fireworks_account_id=values.get("FIREWORKS_ACCOUNT_ID") or None,
        judge_model=values.get("SVGKIT_JUDGE_MODEL") or MODELS.judge,
        judge_base_url=values.get("SVGKIT_JUDGE_BASE_URL") or MODELS.openai_base_url,
        generation_base_url=values.get("SVGKIT_GENERATION_BASE_URL") or MODELS.fireworks_base_url,
        eval_model=values.get("SVGKIT_EVAL_MODEL") or MODELS.eval_policy,
        fireworks_api_base=(values.get("FIREWORKS_API_BASE") or values.get("FIREWORKS_BASE_URL")
                            or PLATFORM.api_base).rstrip("/"),
        rollout_server_url=(values.get(ROLLOUT_SERVER.url_env) or "").strip().rstrip("/") or None,
        rollout_model_base_url=(values.get(ROLLOUT_SERVER.model_base_url_env) or "").strip().rstrip("/")
        or ROLLOUT_SERVER.gateway_url,
        judge_choice=chosen,  # type: ignore[arg-type]
        judge_key_env=key_env,
    )


def _live_generation(settings: Settings) -> bool:
    try:
        return settings.mode("generate") == "live"
    except MissingKeyError:
        return False


def describe_mode(settings: Settings | None = None, *, steps: Sequence[str] | None = None) -> list[ModeRow]:
    """One row per step: its mode now, the key it needs and what it will do.

    Never raises for a missing key (a notebook that does not use a step must not fail for
    it): under ``SVGKIT_MODE=live`` such a step's row carries the error it will raise when it
    runs. Never contains a key, only whether it is set.

    Args:
        settings: Settings to describe (default: :func:`get_settings`).
        steps: Only these steps, in this order (default: all of :data:`STEPS`).

    Raises:
        ValueError: A step is not one of :data:`STEPS`.
    """
    settings = settings or get_settings()
    rows = []
    for step in (list(steps) if steps is not None else list(STEPS)):
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; choose one of {', '.join(STEPS)}")
        spec = STEPS[step]
        has_key = bool(settings.key_for(step))  # type: ignore[arg-type]
        needs = "network only" if spec.key is None else f"{spec.key} ({'set' if has_key else 'not set'})"
        try:
            mode = settings.mode(step)  # type: ignore[arg-type]
        except MissingKeyError as exc:
            rows.append(ModeRow(step, "live", needs, f"fails when it runs: {spec.key} is not set (SVGKIT_MODE=live)",
                                error=str(exc)))
            continue
        held_back = None
        wanted = settings.forced_mode == "live" or has_key
        if mode == "offline" and step in PAID_STEPS and not settings.spend_allowed and wanted:
            why = "SVGKIT_MODE=live" if settings.forced_mode == "live" else "key set"
            missing = "" if has_key else f"; {spec.key} is not set either"
            held_back = (f"{why}, but live is held back: spending is not enabled in this notebook "
                         f"(ALLOW_SPEND = False){missing}")
        does = spec.live if mode == "live" else spec.offline
        if step == "judge" and settings.judge_choice == "rule":
            does, held_back = "uses the rule judge, chosen with SVGKIT_JUDGE=rule (an offline stand-in)", None
        elif step == "judge" and mode == "offline" and _live_generation(settings):
            does += ("; live rollouts need a judge key: the evaluator refuses to score them with the rule judge "
                     "unless SVGKIT_JUDGE=rule")
        rows.append(ModeRow(step, mode, needs, does + (f"; {held_back}" if held_back else ""), held_back=held_back))
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
