"""render_png / render_many: real worker processes, real cairosvg, real PNGs."""

import io
import os
import signal
import time

import numpy as np
import pytest
from PIL import Image

from svgkit import render as render_mod
from svgkit.render import RenderResult, render_many, render_png, shutdown_workers

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
       '<rect x="10" y="10" width="50" height="30" fill="#ff0000"/></svg>')


def pixels(result: RenderResult) -> np.ndarray:
    assert result.ok and result.png is not None, result.error
    image = Image.open(io.BytesIO(result.png))
    assert image.size == (result.width, result.height)
    return np.asarray(image.convert("RGB"))


def test_render_png_draws_on_white():
    result = render_png(SVG)
    assert result.ok and result.error is None
    assert (result.width, result.height) == (120, 80)
    img = pixels(result)
    assert tuple(img[20, 20]) == (255, 0, 0)  # inside the rect
    assert tuple(img[70, 110]) == (255, 255, 255)  # white background, not transparent
    assert result.duration_s > 0
    assert 'width="120"' in result.svg


def test_viewbox_only_svg_is_scaled_to_its_viewbox():
    svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5" height="10" fill="blue"/></svg>'
    result = render_png(svg)
    assert (result.width, result.height) == (10, 10)
    img = pixels(result)
    assert tuple(img[5, 2]) == (0, 0, 255) and tuple(img[5, 8]) == (255, 255, 255)


def test_svg_without_size_gets_the_default_canvas_and_no_size_error():
    result = render_png('<svg xmlns="http://www.w3.org/2000/svg"><circle cx="400" cy="300" r="50" fill="green"/></svg>')
    assert result.ok and (result.width, result.height) == (800, 600)
    assert tuple(pixels(result)[300, 400]) == (0, 128, 0)
    assert "default_canvas" in {f.code for f in result.findings}


def test_long_side_is_clamped_and_drawing_scaled():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="2000">'
           '<rect x="2000" width="2000" height="2000" fill="black"/></svg>')
    result = render_png(svg, max_side=400)
    assert (result.width, result.height) == (400, 200)
    img = pixels(result)
    assert tuple(img[100, 300]) == (0, 0, 0) and tuple(img[100, 100]) == (255, 255, 255)
    assert "canvas_clamped" in {f.code for f in result.findings}


def test_malformed_svg_is_recovered_or_rejected_in_strict_mode():
    broken = ('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">'
              '<rect width="20" height="20" fill="red"></svg>')
    lenient = render_png(broken)
    assert lenient.ok and lenient.recovered
    assert tuple(pixels(lenient)[10, 10]) == (255, 0, 0)
    strict = render_png(broken, strict=True)
    assert not strict.ok and strict.rejected and strict.error.startswith("rejected:")


def test_none_and_non_svg_are_failed_results_not_exceptions():
    assert render_png(None).error == "no svg"  # type: ignore[arg-type]
    junk = render_png("hello")
    assert not junk.ok and junk.error.startswith("rejected")


def test_generic_font_families_use_liberation_fonts():
    def text(family: str) -> np.ndarray:
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text x="5" y="30" '
               f'font-size="24" font-family="{family}">Hamburgefonstiv</text></svg>')
        return pixels(render_png(svg))

    assert np.array_equal(text("sans-serif"), text("Liberation Sans"))
    assert np.array_equal(text("serif"), text("Liberation Serif"))
    assert np.array_equal(text("monospace"), text("Liberation Mono"))
    # A list is resolved as a browser does: an uninstalled first family falls through to sans-serif.
    assert np.array_equal(text("NoSuchFontAnywhere, sans-serif"), text("Liberation Sans"))
    assert not np.array_equal(text("sans-serif"), text("serif"))


def test_text_without_font_family_uses_the_browser_default_serif():
    def text(attr: str) -> np.ndarray:
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text x="5" y="30" '
               f'font-size="24" {attr}>Hamburgefonstiv</text></svg>')
        return pixels(render_png(svg))

    assert np.array_equal(text(""), text('font-family="Liberation Serif"'))


def test_render_many_keeps_order_and_handles_none():
    svgs = [SVG.replace("#ff0000", f"#0000{i:02x}") for i in range(0, 60, 10)]
    batch = [svgs[0], None, *svgs[1:], "<svg"]
    results = render_many(batch, workers=2, progress=False)
    assert len(results) == len(batch)
    assert results[1].error == "no svg"
    assert not results[-1].ok
    for svg, result in zip(svgs, [results[0], *results[2:-1]], strict=True):
        assert result.ok
        expected_blue = int(svg.split("#0000")[1][:2], 16)
        assert tuple(pixels(result)[20, 20]) == (0, 0, expected_blue)


def test_render_many_rejects_unknown_options():
    with pytest.raises(TypeError, match="timeout_s"):
        render_many([SVG], progress=False, timeout=3)
    with pytest.raises(ValueError, match="workers"):
        render_many([SVG], workers=0, progress=False)
    assert render_many([], progress=False) == []


def test_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="timeout_s"):
        render_png(SVG, timeout_s=0)
    with pytest.raises(ValueError, match="max_side"):
        render_png(SVG, max_side=0)


# Takes well over a second to draw.
SLOW = ('<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="1000"><defs><filter id="b">'
        '<feGaussianBlur stdDeviation="3"/></filter></defs>'
        + "".join(f'<circle cx="{i % 1000}" cy="{(i * 7) % 1000}" r="{200 + i % 300}" fill-opacity="0.3" '
                  f'stroke="#123" stroke-width="9" stroke-dasharray="1 1"/>' for i in range(3000))
        + "</svg>")


def test_timeout_kills_the_worker_and_the_next_render_works():
    start = time.perf_counter()
    result = render_png(SLOW, timeout_s=0.05)
    # Tried twice: 0.05 s, then on a fresh worker with twice the limit; the SVG's fault both times.
    assert not result.ok and result.error.startswith("timed out after 0.1 s")
    assert result.failure == "content" and result.attempts == 2
    assert "timed out after 0.05 s, then on a fresh worker" in {f.code: f.detail for f in result.findings}[
        "render_retried"]
    assert time.perf_counter() - start < 10
    assert render_png(SVG).ok


def test_a_killed_idle_worker_is_replaced_transparently():
    assert render_png(SVG).ok
    pool = render_mod._pool()
    assert pool.idle, "a worker should be idle after a render"
    for worker in list(pool.idle):
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(5)
    results = render_many([SVG] * 4, workers=2, progress=False)
    assert all(r.ok for r in results)


def test_a_worker_dying_mid_task_fails_only_that_item(monkeypatch):
    pool = render_mod._pool()
    original_send = render_mod._Worker.send
    calls = {"n": 0}

    def send_then_die(self, task):
        original_send(self, task)
        calls["n"] += 1
        if b"feGaussianBlur" in task:  # the worker dies while it is busy with the slow task
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    monkeypatch.setattr(render_mod._Worker, "send", send_then_die)
    results = render_many([SVG, SLOW, SVG, SVG, SVG], workers=1, progress=False, timeout_s=30)
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and failed[0] is results[1]
    assert failed[0].error == "renderer crashed (exit code -9)"
    assert failed[0].failure == "content"  # it died drawing this SVG (a segfault, the OOM killer)
    assert sum(r.ok for r in results) == 4
    assert pool.size <= 2


def test_shutdown_workers_then_render_again():
    assert render_png(SVG).ok
    shutdown_workers()
    assert render_png(SVG).ok


def test_progress_bar_does_not_break_rendering(capsys):
    results = render_many([SVG, SVG], workers=2, progress=True)
    assert all(r.ok for r in results)
    assert "rendering" in capsys.readouterr().err


# --------------------------------------------------------------------------- review fixes
NS = 'xmlns="http://www.w3.org/2000/svg"'


def test_failure_is_none_when_drawn():
    assert render_png(SVG).failure is None


@pytest.mark.parametrize(
    "svg, error",
    [
        (None, "no svg"),
        ("hello", "rejected"),
        (f'<!DOCTYPE svg [<!ENTITY a "b">]><svg {NS}>&a;</svg>', "rejected"),
        (f'<svg {NS} width="9" height="9"><rect width="9" height="9" transform="scale(1e308)"/></svg>',
         "render error: CairoError"),
        # A cycle only a <use> makes (its target inherits the marker from it): the sanitiser's
        # count cannot see it, cairosvg recurses until Python stops it.
        (f'<svg {NS} width="99" height="99"><defs><path id="l" d="M0 0 L5 5 L9 0"/><marker id="m">'
         f'<use href="#l" marker-mid="url(#m)"/></marker></defs><use href="#l" marker-mid="url(#m)"/></svg>',
         "render error: nesting too deep"),
    ],
)
def test_failures_caused_by_the_svg_are_content_failures(svg, error):
    result = render_png(svg)
    assert not result.ok and result.error.startswith(error)
    assert result.failure == "content"
    # Drawing failures are tried once more on a fresh worker; rejections are certain at once.
    assert result.attempts == (1 if result.rejected or svg is None else 2)


def test_worker_that_cannot_start_is_an_infrastructure_failure(monkeypatch):
    def no_worker(env):
        raise render_mod._WorkerDied("render worker failed to start (exit code 1)")

    shutdown_workers()
    monkeypatch.setattr(render_mod, "_Worker", no_worker)
    result = render_png(SVG)
    assert not result.ok and result.error.startswith("renderer unavailable")
    assert result.failure == "infrastructure"


def test_spawn_error_is_an_infrastructure_failure_not_an_exception(monkeypatch):
    def no_processes(env):
        raise OSError(11, "Resource temporarily unavailable")

    shutdown_workers()
    monkeypatch.setattr(render_mod, "_Worker", no_processes)
    result = render_png(SVG)
    assert not result.ok and result.failure == "infrastructure"


def test_undecodable_reply_is_an_infrastructure_failure(monkeypatch):
    def garbled(data):
        raise ValueError("malformed reply")

    monkeypatch.setattr(render_mod, "_decode_reply", garbled)
    result = render_png(SVG)
    assert not result.ok and result.error == "renderer sent a malformed reply"
    assert result.failure == "infrastructure"


def test_worker_dead_before_the_task_twice_is_an_infrastructure_failure(monkeypatch):
    def dead(self, task):
        raise render_mod._WorkerDied("renderer had exited before the task was sent")

    monkeypatch.setattr(render_mod._Worker, "send", dead)
    result = render_png(SVG)
    assert not result.ok and result.failure == "infrastructure"


def test_import_error_in_the_worker_is_infrastructure():
    assert render_mod._exception_failure(ModuleNotFoundError("cairocffi")) == "infrastructure"
    assert render_mod._exception_failure(ValueError("cannot convert float NaN to integer")) == "content"
    assert render_mod._exception_failure(OverflowError("x")) == "content"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_workers_do_not_inherit_api_keys(monkeypatch):
    shutdown_workers()
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-fake-key-for-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-test")
    monkeypatch.setenv("SOME_OTHER_TOKEN", "tok-fake")
    monkeypatch.setenv("LC_PAPER", "C")
    try:
        assert render_png(SVG).ok
        pool = render_mod._pool()
        assert pool.idle
        for worker in pool.idle:
            with open(f"/proc/{worker.process.pid}/environ", "rb") as fh:
                env = dict(item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item)
            assert not any(b"fake" in value for value in env.values()), sorted(env)
            assert b"FIREWORKS_API_KEY" not in env and b"OPENAI_API_KEY" not in env
            assert env.get(b"LC_PAPER") == b"C" and b"PYTHONPATH" in env
    finally:
        shutdown_workers()  # the next test starts workers from a clean environment again


def test_worker_env_is_an_allow_list():
    env = render_mod._worker_env({"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "OPENAI_API_KEY": "k",
                                  "AWS_SECRET_ACCESS_KEY": "s", "HF_TOKEN": "t"})
    assert env == {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C"}


def test_overflowing_size_does_not_crash_the_worker():
    # width * viewBox ratio overflowed to inf: "ValueError: cannot convert float NaN to integer".
    result = render_png(f'<svg {NS} width="1e300" viewBox="0 0 1e-300 1e300"><rect width="5" height="5"/></svg>')
    assert "NaN" not in (result.error or "") and "ValueError" not in (result.error or "")
    assert result.ok or result.failure == "content"  # cairo itself refuses a 1e300 scale: fair
    result = render_png(f'<svg {NS} width="1e30" height="1e30"><rect width="1e30" height="1e30" fill="red"/></svg>')
    assert result.ok and (result.width, result.height) == (1024, 1024)
    assert "1e+30x1e+30 scaled to 1024x1024" in {f.detail for f in result.findings}


def test_svg_with_a_rejected_embedded_image_is_drawn_and_not_rejected():
    import base64

    bad = f'<!DOCTYPE svg [<!ENTITY x "y">]><svg {NS}/>'.encode()
    svg = (f'<svg {NS} width="50" height="50"><rect width="50" height="50" fill="red"/>'
           f'<image width="9" height="9" href="data:image/svg+xml;base64,{base64.b64encode(bad).decode()}"/></svg>')
    result = render_png(svg)
    assert result.ok and not result.rejected and result.failure is None
    assert tuple(pixels(result)[25, 25]) == (255, 0, 0)


def test_embedded_svg_with_use_and_a_raster_image_still_draws():
    # The worker's fetcher now only hands over checked data: images; nesting must keep working.
    import base64

    image = Image.new("RGB", (4, 4), (0, 0, 255))
    raw = io.BytesIO()
    image.save(raw, "PNG")
    png = "data:image/png;base64," + base64.b64encode(raw.getvalue()).decode()
    inner = (f'<svg {NS} viewBox="0 0 10 10"><defs><rect id="r" width="10" height="5" fill="lime"/></defs>'
             f'<use href="#r"/><image href="{png}" y="5" width="10" height="5" preserveAspectRatio="none"/></svg>')
    uri = "data:image/svg+xml;base64," + base64.b64encode(inner.encode()).decode()
    result = render_png(f'<svg {NS} width="20" height="20"><image href="{uri}" width="20" height="20"/></svg>')
    assert result.findings == ()
    img = pixels(result)
    assert tuple(img[3, 10]) == (0, 255, 0) and tuple(img[15, 10]) == (0, 0, 255)
