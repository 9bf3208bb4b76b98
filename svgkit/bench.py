"""Speed benchmark of the render pipeline: ``python -m svgkit.bench`` (``make bench``).

Prints, for the bundled example responses plus a generated stress set:

- ``render_many`` on the worker pool (one worker per core): median ms per SVG and SVGs per
  second for the whole batch;
- ``render_png`` one at a time on a typical example: median ms per call (sanitising, IPC and
  drawing included);
- raw ``cairosvg.svg2png`` in this process on the same inputs (the floor), and the ratio of
  the pool's throughput to it.

Targets on a 2-core machine: a median at or under 50 ms for a typical example, and batch
throughput at least 0.8x the raw single-process loop. Figures are reported, never asserted in
tests. Also writes the contact sheet (``assets/contact_sheet.png``) unless ``--no-sheet``.

``python -m svgkit.bench --minirft`` times the RFT miniature's default run from the command
line (``python -m svgkit.minirft``, start-up included; target at most 60 s on 2 cores) and
prints its figures.

``python -m svgkit.bench --fidelity`` (``make fidelity``; needs Debian's ``chromium``) instead
compares svgkit's renders of the bundled examples with headless Chromium screenshots of the
same SVGs embedded the way upstream embeds them, and prints the SSIM per example and overall.
Chromium runs with networking disabled.

``python -m svgkit.bench --rollout-server`` instead measures the remote rollout server's
``POST /init`` latency: rounds of 50 concurrent requests (real ``InitRequest`` bodies) to
``python -m svgkit.rollout_server`` in its own process, while the stand-in model takes seconds to
answer each rollout, so later rounds meet a server busy with the earlier rounds' rollouts. It
prints p50, p95 and max (target: p95 at most 50 ms) and how long until every rollout reported.

``python -m svgkit.bench --rule-judge`` instead times the rule judge per answer (wall clock, its
evidence renders included, the answer's own render not) on the bundled examples, the canaries and
hostile answers (4,000 ``<text>`` elements, 2,000 shapes, a long label list), and the whole reward
(:func:`svgkit.reward.score_response`) on the hostile ones. Target: at most 2 s per answer on 2
cores (``JUDGE.rule_budget_s``), past which the judge leaves the answer undecided with the reason.
"""

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BenchReport", "evaluator_bench", "fidelity", "minirft_bench", "rollout_server_bench",
           "rule_judge_bench", "run_bench", "ssim", "stress_set"]


@dataclass(frozen=True)
class BenchReport:
    """Benchmark figures (milliseconds and SVGs per second)."""

    n_inputs: int
    n_examples: int
    workers: int
    pool_median_ms: float
    pool_svgs_per_s: float
    pool_ok: int
    single_median_ms: float
    raw_median_ms: float
    raw_svgs_per_s: float
    raw_ok: int

    @property
    def throughput_ratio(self) -> float:
        """Pool throughput divided by the raw single-process loop's."""
        return self.pool_svgs_per_s / self.raw_svgs_per_s if self.raw_svgs_per_s else float("nan")


def stress_set(*, seed: int = 7) -> list[tuple[str, str]]:
    """Generated SVGs of typical to heavy size, as ``(name, svg)`` (deterministic)."""
    import random

    rng = random.Random(seed)
    ns = 'xmlns="http://www.w3.org/2000/svg"'
    out: list[tuple[str, str]] = []
    for i in range(8):  # icons
        shapes = "".join(
            f'<circle cx="{rng.randint(4, 20)}" cy="{rng.randint(4, 20)}" r="{rng.randint(1, 6)}" '
            f'fill="#{rng.randint(0, 0xFFFFFF):06x}"/>' for _ in range(6))
        out.append((f"icon-{i}", f'<svg {ns} viewBox="0 0 24 24" width="256" height="256">{shapes}</svg>'))
    for i in range(6):  # scenes with gradients, paths and text
        parts = ['<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#7ec8e3"/>'
                 '<stop offset="1" stop-color="#fff"/></linearGradient></defs>',
                 '<rect width="800" height="600" fill="url(#sky)"/>']
        for _ in range(60):
            x, y = rng.randint(0, 800), rng.randint(200, 600)
            parts.append(f'<path d="M{x} {y} q {rng.randint(-80, 80)} {rng.randint(-120, -20)} '
                         f'{rng.randint(20, 160)} 0 z" fill="#{rng.randint(0, 0xFFFFFF):06x}" opacity="0.8"/>')
        for j in range(5):
            parts.append(f'<text x="{40 + j * 140}" y="60" font-family="sans-serif" font-size="22">Label {j}</text>')
        out.append((f"scene-{i}", f'<svg {ns} width="800" height="600">{"".join(parts)}</svg>'))
    for i in range(3):  # heavy: thousands of elements
        rects = "".join(f'<rect x="{rng.randint(0, 990)}" y="{rng.randint(0, 990)}" width="10" height="10" '
                        f'fill="#{rng.randint(0, 0xFFFFFF):06x}"/>' for _ in range(3000))
        out.append((f"heavy-{i}", f'<svg {ns} width="1000" height="1000">{rects}</svg>'))
    for i in range(3):  # long path
        d = "M0 0 " + " ".join(f"L{rng.randint(0, 600)} {rng.randint(0, 400)}" for _ in range(5000))
        out.append((f"path-{i}", f'<svg {ns} width="600" height="400"><path d="{d}" fill="none" stroke="#333"/></svg>'))
    return out


def _raw(svgs: Sequence[str | None]) -> tuple[list[float], float, int]:
    import cairosvg

    from svgkit.svg import canvas_size

    times, ok = [], 0
    start = time.perf_counter()
    for svg in svgs:
        if svg is None:
            continue
        w, h = canvas_size(svg)
        t0 = time.perf_counter()
        try:
            cairosvg.svg2png(bytestring=svg.encode(), parent_width=w, parent_height=h, output_width=w,
                             output_height=h, background_color="white")
            ok += 1
        except Exception:  # noqa: BLE001 - the floor counts failures too
            pass
        times.append(time.perf_counter() - t0)
    return times, time.perf_counter() - start, ok


def run_bench(*, workers: int | None = None, repeats: int = 3) -> BenchReport:
    """Run the benchmark and return its figures (no printing).

    Args:
        workers: Pool size for ``render_many`` (default: one per core).
        repeats: Batches timed; the best batch counts (the first one also warms the pool).
    """
    from svgkit.dataset import load_examples
    from svgkit.render import render_many, render_png
    from svgkit.svg import extract_svg

    examples = [extract_svg(ex.response).svg for ex in load_examples()]
    examples = [svg for svg in examples if svg is not None]
    inputs: list[str | None] = [*examples, *(svg for _, svg in stress_set())]
    n_workers = workers or max(1, os.cpu_count() or 1)

    render_many(inputs[: n_workers * 2], workers=n_workers, progress=False)  # start the workers
    best_wall, best_results = float("inf"), []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        results = render_many(inputs, workers=n_workers, progress=False)
        wall = time.perf_counter() - start
        if wall < best_wall:
            best_wall, best_results = wall, results
    pool_median = statistics.median(r.duration_s for r in best_results) * 1000

    typical = sorted(examples or [svg for _, svg in stress_set()[8:14]], key=len)
    typical = typical[len(typical) // 2]
    single = []
    for _ in range(30):
        t0 = time.perf_counter()
        render_png(typical)
        single.append(time.perf_counter() - t0)

    raw_best_wall, raw_times, raw_ok = float("inf"), [], 0
    for _ in range(max(1, repeats)):
        times, wall, ok = _raw(inputs)
        if wall < raw_best_wall:
            raw_best_wall, raw_times, raw_ok = wall, times, ok
    return BenchReport(
        n_inputs=len(inputs), n_examples=len(examples), workers=n_workers,
        pool_median_ms=pool_median, pool_svgs_per_s=len(inputs) / best_wall,
        pool_ok=sum(r.ok for r in best_results),
        single_median_ms=statistics.median(single) * 1000,
        raw_median_ms=statistics.median(raw_times) * 1000, raw_svgs_per_s=len(inputs) / raw_best_wall,
        raw_ok=raw_ok,
    )


def ssim(a, b) -> float:
    """Mean structural similarity of two same-sized images (grey, 7x7 windows)."""
    import numpy as np

    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"images differ in size: {x.shape} vs {y.shape}")
    k = 7
    if min(x.shape) < k:
        return float(np.array_equal(x, y))

    def box(img):
        c = np.cumsum(np.cumsum(np.pad(img, ((1, 0), (1, 0))), 0), 1)
        return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)

    mx, my = box(x), box(y)
    vx, vy, cxy = box(x * x) - mx * mx, box(y * y) - my * my, box(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


_PAGE = """<!DOCTYPE html><html><head><style>*{{margin:0;padding:0;box-sizing:border-box}}
body{{background:white;width:{w}px;height:{h}px;overflow:hidden}}
svg{{display:block;width:{w}px !important;height:{h}px !important}}</style></head><body>{svg}</body></html>"""


def _chromium() -> str | None:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def fidelity(*, limit: int | None = None) -> list[tuple[str, float]]:
    """SSIM of svgkit's render against Chromium's for each bundled example that draws.

    Raises:
        RuntimeError: Chromium is not installed (``apt-get install chromium``).
    """
    import io
    import subprocess
    import tempfile
    from pathlib import Path

    from PIL import Image

    from svgkit.dataset import load_examples
    from svgkit.render import render_many
    from svgkit.svg import extract_svg

    browser = _chromium()
    if browser is None:
        raise RuntimeError("make fidelity needs headless Chromium: apt-get install chromium (Debian/Ubuntu)")
    rows = [(ex.example_id, extract_svg(ex.response).svg) for ex in load_examples()]
    rows = [(name, svg) for name, svg in rows if svg is not None][:limit]
    results = render_many([svg for _, svg in rows], progress=False)
    scores = []
    with tempfile.TemporaryDirectory(prefix="svgkit-fidelity-") as tmp:
        for (name, svg), result in zip(rows, results, strict=True):
            if not result.ok:
                continue
            page = Path(tmp) / "page.html"
            shot = Path(tmp) / "shot.png"
            page.write_text(_PAGE.format(w=result.width, h=result.height, svg=svg), encoding="utf-8")
            shot.unlink(missing_ok=True)
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--force-device-scale-factor=1", "--proxy-server=127.0.0.1:9",
                 "--host-resolver-rules=MAP * ~NOTFOUND", f"--window-size={result.width},{result.height}",
                 f"--screenshot={shot}", page.as_uri()],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False,
            )
            if not shot.is_file():
                continue
            ours = Image.open(io.BytesIO(result.png))
            theirs = Image.open(shot)
            if theirs.size != ours.size:
                theirs = theirs.crop((0, 0, *ours.size))
            scores.append((str(name), ssim(ours, theirs)))
    return scores


def _report(report: BenchReport) -> str:
    lines = [
        f"inputs: {report.n_inputs} SVGs ({report.n_examples} bundled example responses + "
        f"{report.n_inputs - report.n_examples} generated stress SVGs); {report.workers} workers, "
        f"{os.cpu_count()} cores",
        "",
        f"{'':34}{'median ms/SVG':>15}{'SVGs/s':>10}{'drawn':>8}",
        f"{'render_many (pool)':34}{report.pool_median_ms:>15.1f}{report.pool_svgs_per_s:>10.1f}"
        f"{report.pool_ok:>8}",
        f"{'render_png one by one (typical)':34}{report.single_median_ms:>15.1f}"
        f"{1000 / report.single_median_ms:>10.1f}{'':>8}",
        f"{'raw cairosvg, one process (floor)':34}{report.raw_median_ms:>15.1f}{report.raw_svgs_per_s:>10.1f}"
        f"{report.raw_ok:>8}",
        "",
        f"throughput ratio pool/raw: {report.throughput_ratio:.2f}x (target >= 0.8x)",
        f"typical example median: {report.single_median_ms:.1f} ms (target <= 50 ms)",
        "for scale (measured upstream): new headless Chromium per SVG 650-990 ms, reused Chromium 110-150 ms",
    ]
    return "\n".join(lines)


def evaluator_bench(*, runs: int = 2) -> list[str]:
    """Time the offline evaluator end to end (pytest start-up included), ``runs`` times.

    Each run scores every bundled example response through ``svgkit/evaluator.py``: extract,
    sanitise, render, rule judge. The target is at most 30 s of wall time on 2 cores.
    """
    import tempfile
    from pathlib import Path

    from svgkit.evaluation import run_evaluator

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SVGKIT_MODE": "offline", "SVGKIT_OUTPUT_DIR": tmp}
        for i in range(1, runs + 1):
            run = run_evaluator(output_dir=Path(tmp) / f"ep{i}", env=env)
            invalid = sum(not s.valid for s in run.scores)
            lines.append(f"evaluator run {i}: exit {run.returncode}, {len(run.scores)} rows scored "
                         f"({invalid} invalid), mean score {run.mean_score:.3f}, wall {run.seconds:.1f} s "
                         "(pytest start included; target <= 30 s)")
    return lines


def minirft_bench(*, runs: int = 1) -> list[str]:
    """Time the RFT miniature's default run as a user starts it (``python -m svgkit.minirft``).

    Wall time includes Python start-up and imports; the CPU time it used and the load average
    are printed beside it, because other work on the machine slows the wall time down.
    Target: at most 60 s on 2 cores.
    """
    import resource
    import subprocess
    import tempfile

    from .config import MINIRFT
    from .training_log import read_log

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, runs + 1):
            out = Path(tmp) / f"minirft{i}.jsonl"
            cmd = [sys.executable, "-m", "svgkit.minirft", "--steps", str(MINIRFT.steps), "--seed",
                   str(MINIRFT.seed), "--out", str(out)]
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp,
                                  env={**os.environ, "SVGKIT_MODE": "offline", "SVGKIT_OUTPUT_DIR": tmp})
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if proc.returncode:
                lines.append(f"minirft run {i}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
                continue
            log = read_log(out)
            k = max(1, len(log) // 6)
            first = statistics.mean(s.reward_mean for s in log.steps[:k])
            last = statistics.mean(s.reward_mean for s in log.steps[-k:])
            zero = statistics.mean(s.zero_spread_share or 0.0 for s in log.steps)
            scored = next((line for line in proc.stdout.splitlines() if "scored through the reward" in line), "")
            lines.append(f"minirft run {i} ({' '.join(['python', *cmd[1:-1]])} FILE): wall {wall:.1f} s with "
                         f"start-up (target <= 60 s), CPU {cpu:.1f} s (the process and the render workers it "
                         f"waited for; {cpu / 2:.1f} s if spread over 2 idle cores), load average {load:.1f} "
                         f"at start; reward {first:.3f} "
                         f"(first {k} steps) -> {last:.3f} (last {k}); zero-spread groups {zero:.0%}; {scored}")
    return lines


def _init_body(rollout_id: str, model_base_url: str) -> dict:
    from .dataset import load_bundled_prompts, to_eval_rows

    (row,) = to_eval_rows(load_bundled_prompts()[:1])
    ids = {"rollout_id": rollout_id, "invocation_id": "bench", "experiment_id": "bench", "run_id": "bench",
           "row_id": f"row-{rollout_id}"}
    path = "".join(f"/{k}/{v}" for k, v in ids.items())
    return {"completion_params": {"model": "fireworks_ai/accounts/fireworks/models/qwen3-0p6b", "temperature": 0.8,
                                  "max_tokens": 4096, "extra_body": {"reasoning_effort": "low"}},
            "messages": row["messages"], "model_base_url": model_base_url + path, "metadata": ids,
            "api_key": "bench-not-a-key"}


def _cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, in ms (Linux ``/proc``; else ``None``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK") * 1000


def rollout_server_bench(*, concurrent: int = 50, rounds: int = 3, model_delay_s: float = 3.0,
                         pause_s: float = 0.5, startup_timeout_s: float = 90.0) -> list[str]:
    """``/init`` latency of ``python -m svgkit.rollout_server`` while the model takes ``model_delay_s``.

    Each round posts ``concurrent`` requests at once (aiohttp, as ``RemoteRolloutProcessor``
    does) and times each one; the next round follows ``pause_s`` later, while the earlier
    rounds' rollouts are still waiting for the model. Also reports the server's CPU time per
    ``/init`` (everything it did meanwhile, model calls included, divided by the requests),
    which a busy machine does not inflate the way it inflates wall-clock latency.
    """
    import asyncio
    import json

    import aiohttp

    from .config import ROLLOUT_SERVER
    from .dataset import load_examples
    from .rollout_server import start_server_process
    from .standin.gateway import GatewayStandin

    with GatewayStandin(default=load_examples()[0].response, model_delay_s=model_delay_s) as gateway:
        env = {**os.environ, "FW_TRACING_GATEWAY_BASE_URL": gateway.gateway_url,
               "SVGKIT_ROLLOUT_MAX_QUEUED": str(max(ROLLOUT_SERVER.max_queued, concurrent * rounds))}
        for key in ("FIREWORKS_API_KEY", "EP_REMOTE_API_KEY"):
            env.pop(key, None)
        server = start_server_process(env=env, startup_timeout_s=startup_timeout_s)
        url = server.url
        try:
            # Bodies are made before the clock starts: built inside the burst, each one would
            # hold up the responses of the requests already sent and be timed as server latency.
            bodies = {rid: json.dumps(_init_body(rid, gateway.model_base_url))
                      for rid in ["warm-up", *(f"b{r}-{i}" for r in range(rounds) for i in range(concurrent))]}

            async def post(session: Any, rid: str) -> tuple[float, int]:
                body = bodies[rid]
                start = time.perf_counter()
                async with session.post(f"{url}/init", data=body,
                                        headers={"content-type": "application/json"}) as resp:
                    await resp.read()
                return (time.perf_counter() - start) * 1000, resp.status

            async def run() -> tuple[list[float], list[int], float]:
                # aiohttp, as RemoteRolloutProcessor posts: one session, no connection limit
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                    started = time.monotonic()
                    results = []
                    for r in range(rounds):
                        if r:
                            await asyncio.sleep(pause_s)
                        results += await asyncio.gather(*(post(session, f"b{r}-{i}") for i in range(concurrent)))
                return [ms for ms, _ in results], [code for _, code in results], started

            async def warm_up() -> None:  # one whole rollout first, so lazy imports are not timed
                async with aiohttp.ClientSession() as session:
                    await post(session, "warm-up")
                until = time.monotonic() + model_delay_s + 60
                while gateway.status("warm-up") is None and time.monotonic() < until:
                    await asyncio.sleep(0.05)

            asyncio.run(warm_up())
            gc.collect()  # nor is a full collection of this process's heap timed as server latency
            gc.freeze()
            cpu_before = _cpu_ms(server.process.pid)
            latencies, codes, started = asyncio.run(run())
            cpu_bursts = _cpu_ms(server.process.pid)
            total = concurrent * rounds + 1
            wait_until = time.monotonic() + model_delay_s * 3 + 60
            while len(gateway.final_statuses()) < total and time.monotonic() < wait_until:
                time.sleep(0.05)
            all_done_s = time.monotonic() - started
            cpu_after = _cpu_ms(server.process.pid)
        finally:
            gc.unfreeze()
            server.stop()
        finals = gateway.final_statuses()
    ordered = sorted(latencies)
    p50, p95 = statistics.median(ordered), statistics.quantiles(ordered, n=100, method="inclusive")[94]
    finished = sum(e.status["code"] == 100 for e in finals.values())  # Status.Code.FINISHED
    def per_init(until: float | None) -> str:
        return "n/a" if cpu_before is None or until is None else f"{(until - cpu_before) / len(ordered):.2f} ms"

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        f"rollout server /init: {rounds} rounds of {concurrent} concurrent requests, model answers in "
        f"{model_delay_s:g} s; {len(ordered)} timed, statuses {sorted(set(codes))}",
        f"/init latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms (target p95 <= 50 ms)",
        f"rollouts reported to the gateway: {len(finals)} of {total} ({finished} FINISHED), the last "
        f"{all_done_s:.1f} s after the first timed /init",
        f"server CPU per /init: {per_init(cpu_bursts)} while the rounds ran (model calls started), "
        f"{per_init(cpu_after)} in all (answers and reports included); {os.cpu_count()} cores, "
        f"load average {load} (wall-clock latency grows with the machine's load)",
    ]


def _hostile_answers() -> list[tuple[str, str, tuple[str, ...]]]:
    """Answers built to make the rule judge slow: ``(name, svg, requirements)``."""
    import random

    rng = random.Random(11)
    ns = 'xmlns="http://www.w3.org/2000/svg"'
    reqs = ("A sign reads 'Open'.", "The title 'Farm Day' is at the top.", "A red barn is on the left.",
            "The background is light blue.", "A yellow sun is in the top-right corner.")
    texts = "".join(f'<text x="{rng.randint(0, 780)}" y="{rng.randint(10, 590)}" font-size="{rng.randint(6, 20)}">'
                    f'Open Farm Day {i}</text>' for i in range(4000))
    shapes = "".join(f'<circle cx="{rng.randint(0, 800)}" cy="{rng.randint(0, 600)}" r="{rng.randint(2, 9)}" '
                     f'fill="#{rng.randint(0, 0xFFFFFF):06x}"/>' for _ in range(2000))
    tspans = "".join(f'<tspan x="10" dy="3">w{i}</tspan>' for i in range(3000))
    return [("4000-texts", f'<svg {ns} width="800" height="600"><rect width="800" height="600" fill="#add8e6"/>'
                           f'{texts}</svg>', reqs),
            ("2000-shapes", f'<svg {ns} width="800" height="600">{shapes}</svg>', reqs),
            ("3000-tspans", f'<svg {ns} width="800" height="600"><text x="10" y="10">{tspans}</text></svg>', reqs)]


def rule_judge_bench() -> list[str]:
    """Time the rule judge per answer (see the module docs); lines to print."""
    from svgkit.canaries import hack_answers
    from svgkit.dataset import load_bundled_prompts, load_examples
    from svgkit.judge import RuleJudge
    from svgkit.render import render_png
    from svgkit.reward import score_response
    from svgkit.svg import extract_svg

    prompts = {p.id: p for p in load_bundled_prompts()}
    cases: list[tuple[str, str, tuple[str, ...]]] = []
    for ex in load_examples():
        svg = extract_svg(ex.response).svg
        if svg and ex.prompt_id in prompts:
            cases.append((f"example:{ex.example_id}", svg, tuple(prompts[ex.prompt_id].requirements)))
    for p in list(prompts.values())[:6]:
        for a in hack_answers(p):
            svg = extract_svg(a.response).svg
            if svg:
                cases.append((f"canary:{a.family}:{p.id}", svg, tuple(p.requirements)))
    hostile = _hostile_answers()
    cases += [(f"hostile:{n}", s, r) for n, s, r in hostile]
    judge = RuleJudge()
    times: list[tuple[float, str, int]] = []
    for name, svg, reqs in cases:
        res = render_png(svg)
        if not res.ok:
            continue
        start = time.perf_counter()
        verdict = judge.judge(res, list(reqs), svg=res.svg)
        budget_hit = sum("budget ran out" in i.reason for i in verdict.items)
        times.append((time.perf_counter() - start, name, budget_hit))
    walls = sorted(t for t, _, _ in times)
    worst = sorted(times, reverse=True)[:5]
    lines = [f"rule judge, {len(times)} answers ({sum(n.startswith('example') for _, n, _ in times)} examples, "
             f"{sum(n.startswith('canary') for _, n, _ in times)} canaries, {len(hostile)} hostile), "
             f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}:",
             f"  per answer: median {statistics.median(walls) * 1000:.0f} ms, "
             f"p95 {walls[int(0.95 * (len(walls) - 1))] * 1000:.0f} ms, max {walls[-1] * 1000:.0f} ms "
             f"(target: at most {judge.budget_s:g} s)",
             f"  answers left undecided by the budget: {sum(1 for *_, b in times if b)}",
             "  slowest: " + ", ".join(f"{n} {t * 1000:.0f} ms" + (" (budget)" if b else "") for t, n, b in worst)]
    for name, svg, reqs in hostile:
        start = time.perf_counter()
        res = score_response(f"```svg\n{svg}\n```", list(reqs), judge=judge)
        lines.append(f"  whole reward on hostile:{name}: {time.perf_counter() - start:.2f} s, score {res.score:.2f}, "
                     f"{(res.reason or '')[:90]}")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m svgkit.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: one per core)")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches; the best one counts")
    parser.add_argument("--no-sheet", action="store_true", help="do not write assets/contact_sheet.png")
    parser.add_argument("--fidelity", action="store_true",
                        help="compare with headless Chromium screenshots (SSIM) instead of timing")
    parser.add_argument("--evaluator", action="store_true",
                        help="time the offline evaluator under pytest on every bundled example, twice")
    parser.add_argument("--rollout-server", action="store_true",
                        help="time the rollout server's /init under 50 concurrent requests while the model is slow")
    parser.add_argument("--rule-judge", action="store_true",
                        help="time the rule judge per answer on examples, canaries and hostile answers")
    parser.add_argument("--minirft", action="store_true",
                        help="time the RFT miniature's default run (python -m svgkit.minirft)")
    options = parser.parse_args()
    for chosen, bench in ((options.rule_judge, rule_judge_bench), (options.minirft, minirft_bench),
                          (options.rollout_server, rollout_server_bench), (options.evaluator, evaluator_bench)):
        if chosen:
            for line in bench():
                print(line)
            raise SystemExit(0)
    if options.fidelity:
        scores = fidelity()
        for name, score in sorted(scores, key=lambda item: item[1]):
            print(f"{name:>12}  SSIM {score:.3f}")
        values = sorted(score for _, score in scores)
        if not values:
            raise SystemExit("no example was drawn by both renderers")
        print(f"\n{len(values)} examples: median SSIM {statistics.median(values):.3f}, "
              f"mean {statistics.mean(values):.3f}, min {values[0]:.3f}, "
              f"{sum(v >= 0.98 for v in values)} at or above 0.98")
        raise SystemExit(0)
    print(_report(run_bench(workers=options.workers, repeats=options.repeats)))
    if not options.no_sheet:
        from svgkit.gallery import write_contact_sheet

        print(f"contact sheet: {write_contact_sheet()}")
    sys.stdout.flush()
