"""A self-contained HTML report of a before/after comparison (``outputs/report.html``).

One file, no network: every picture is an inline PNG (``data:`` URI), the styles are inline,
there is no script and no link to load anything. It opens in any browser, by e-mail, offline.

- :func:`report_sections`: the sections of a :class:`svgkit.analysis.BeforeAfter`, in reading order;
- :func:`report_html`: sections -> the HTML text;
- :func:`write_report`: both, written to a file (default ``outputs/report.html``).
"""

import base64
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ANALYSIS, output_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .analysis import BeforeAfter

__all__ = ["ReportSection", "figure_data_uri", "markdown_html", "report_html", "report_sections", "write_report"]


@dataclass(frozen=True)
class ReportSection:
    """One section of the report.

    Attributes:
        title: Its heading.
        markdown: Text in the small Markdown subset :func:`markdown_html` reads (paragraphs,
            ``**bold**``, ``_italic_``, ``code``, ``- `` lists, tables).
        figures: Figures shown under the text, as inline PNGs.
    """

    title: str
    markdown: str = ""
    figures: tuple["Figure", ...] = ()


def figure_data_uri(figure: "Figure", *, dpi: int = 80) -> str:
    """A figure as a ``data:image/png;base64,...`` URI (nothing written to disk)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return re.sub(r"(?<![\w])_([^_]+)_(?![\w])", r"<i>\1</i>", out)


def _cells(line: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [p.strip().replace("\\|", "|") for p in parts]


def _row(cells: list[str], tag: str, right: list[bool]) -> str:
    return "<tr>" + "".join(f'<{tag}{" class=r" if i < len(right) and right[i] else ""}>{_inline(c)}</{tag}>'
                            for i, c in enumerate(cells)) + "</tr>"


def markdown_html(markdown: str) -> str:
    """The Markdown subset svgkit's views use, as HTML (everything escaped; no raw HTML passes)."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.splitlines()
        if not lines:
            continue
        if all(line.lstrip().startswith("|") for line in lines) and len(lines) >= 2:
            head, rule, *body = lines
            right = [c.endswith(":") for c in _cells(rule)]
            rows = [_row(_cells(head), "th", right)] + [_row(_cells(b), "td", right) for b in body]
            out.append("<table>" + "".join(rows) + "</table>")
        elif all(line.startswith("- ") for line in lines):
            out.append("<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(out)


_STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}h1{margin-bottom:.2em}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left}.r{text-align:right}img{max-width:100%;border:1px solid #eee;margin:.4em 0}
.banner{background:#fff4d6;border:1px solid #e0c36a;padding:.6em 1em;border-radius:4px}
code{background:#f3f3f3;padding:0 .2em}.meta{color:#666;font-size:.9em}"""


def report_html(sections: Sequence[ReportSection], *, title: str, banner: str = "") -> str:
    """The whole report as one HTML document (inline images and styles, no script, no external link)."""
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">Written by svgkit on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>']
    if banner:
        body.append(f'<div class="banner">{markdown_html(banner)}</div>')
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.markdown:
            body.append(markdown_html(section.markdown))
        body += [f'<img alt="{html.escape(section.title)}" src="{figure_data_uri(fig)}"/>' for fig in section.figures]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def report_sections(analysis: "BeforeAfter", *, curve: "Figure | None" = None,
                    curve_note: str = "") -> list[ReportSection]:
    """The report's sections for one comparison, in reading order.

    Args:
        analysis: From :func:`svgkit.analysis.compare`.
        curve: The training curve (:func:`svgkit.plots.training_curve_figure`), if there is one.
        curve_note: A line under the curve (where it comes from).
    """
    req = analysis.requirements
    sections = [ReportSection("Summary", analysis.summary())]
    if curve is not None:
        sections.append(ReportSection("Training curve", curve_note, (curve,)))
    sections += [
        ReportSection("Reward before and after, paired per prompt", repr(analysis.scores),
                      (analysis.histogram_figure(),)),
        ReportSection("What training fixed and broke", repr(req), (req.figure(),)),
        ReportSection("Requirements fixed", req.flips_table("fixed")),
        ReportSection("Requirements broken", req.flips_table("broken")),
        ReportSection("Validity and hack flags", repr(analysis.validity)),
        ReportSection("Answer length and SVG size against reward", analysis.size_summary(),
                      (analysis.size_figure(),)),
        ReportSection("Biggest gains", "", (analysis.gallery_figure("gains"),)),
        ReportSection("Biggest regressions", "", (analysis.gallery_figure("regressions"),)),
    ]
    return sections


def write_report(analysis: "BeforeAfter", *, path: Path | str | None = None, curve: "Figure | None" = None,
                 curve_note: str = "", title: str = "svgkit: results analysis", banner: str = "",
                 extra: Sequence[ReportSection] = ()) -> Path:
    """Write the self-contained HTML report of ``analysis`` and return its path.

    Args:
        analysis: From :func:`svgkit.analysis.compare`.
        path: Where (default ``outputs/report.html``, :attr:`svgkit.config.AnalysisConfig.report_file`).
        curve: The training curve figure, if any.
        curve_note: A line under the curve.
        title: The page title.
        banner: A highlighted note at the top (say where the numbers come from: a miniature, a rehearsal).
        extra: More sections at the end.
    """
    target = Path(path) if path is not None else output_path(ANALYSIS.report_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    sections = [*report_sections(analysis, curve=curve, curve_note=curve_note), *extra]
    target.write_text(report_html(sections, title=title, banner=banner or f"Source: {analysis.source}."),
                      encoding="utf-8")
    return target
