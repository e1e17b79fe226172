"""The chart of a day of staffing as SVG: arrivals, agents per skill group, service level vs target.

Plain SVG text (no plotting library to import, nothing to rasterise): a day of
96 intervals x 70 processes draws in milliseconds, stays sharp at any zoom,
and its French labels remain text a browser can search or translate.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from simulations.forecast import DayStaffing
from simulations.report import _group_label, channels_of, interval_rows, targets_line, words

WIDTH, PANEL_H, TOP, LEFT, PLOT_W = 1000, 190, 40, 60, 640
GAP = 60  # between panels: title and x labels
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896")
_LEGEND_CHARS = 38


def _nice_max(value: float) -> tuple[float, float]:
    """An axis top at or above ``value`` and a tick step (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0, 0.5
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(k * power for k in (1, 2, 5, 10) if k * power >= raw)
    return step * math.ceil(value / step), step


class _Panel:
    """One chart: maps (hour, value) to SVG coordinates and collects its elements."""

    def __init__(self, index: int, x0: float, x1: float, top: float, title: str, ylabel: str):
        self.y_top = TOP + index * (PANEL_H + GAP)
        self.x0, self.x1, self.top = x0, x1, top
        self.parts: list[str] = [
            f'<text x="{LEFT}" y="{self.y_top - 8}" class="t">{escape(title)}</text>',
            (f'<text transform="translate(14,{self.y_top + PANEL_H / 2}) rotate(-90)" '
            f'class="a">{escape(ylabel)}</text>')]
        self.legend: list[str] = []

    def x(self, hour: float) -> float:
        return LEFT + (hour - self.x0) / (self.x1 - self.x0) * PLOT_W

    def y(self, value: float) -> float:
        return self.y_top + PANEL_H - min(value, self.top) / self.top * PANEL_H

    def frame(self, step: float, hour_step: int, xlabel: str | None) -> None:
        out = self.parts
        value = 0.0
        while value <= self.top + 1e-9:
            y = self.y(value)
            out.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y:.1f}" y2="{y:.1f}" '
                       'class="g"/>')
            out.append(f'<text x="{LEFT - 5}" y="{y + 4:.1f}" class="yl">{value:g}</text>')
            value += step
        hour = math.ceil(self.x0)
        while hour <= self.x1:
            x = self.x(hour)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.y_top + PANEL_H}" '
                       f'y2="{self.y_top + PANEL_H + 4}" class="k"/>')
            out.append(f'<text x="{x:.1f}" y="{self.y_top + PANEL_H + 16}" class="xl">'
                       f'{hour:02d}:00</text>')
            hour += hour_step
        out.append(f'<rect x="{LEFT}" y="{self.y_top}" width="{PLOT_W}" height="{PANEL_H}" '
                   'class="f"/>')
        if xlabel:
            out.append(f'<text x="{LEFT + PLOT_W / 2}" y="{self.y_top + PANEL_H + 34}" '
                       f'class="a">{escape(xlabel)}</text>')

    def steps(self, edges: list[float], values: list[float]) -> str:
        """The points of a step line: each value held from its interval's start to its end."""
        pts = []
        for k, v in enumerate(values):
            if math.isnan(v):
                continue
            y = self.y(v)
            pts.append(f"{self.x(edges[k]):.1f},{y:.1f} {self.x(edges[k + 1]):.1f},{y:.1f}")
        return " ".join(pts)

    def line(self, edges: list[float], values: list[float], colour: str, label: str,
             dash: str = "", width: float = 1.5) -> None:
        style = f'stroke="{colour}" stroke-width="{width}"' + (
            f' stroke-dasharray="{dash}"' if dash else "")
        self.parts.append(f'<polyline points="{self.steps(edges, values)}" fill="none" '
                          f'{style}/>')
        self.legend.append(f'<line x1="0" x2="18" y1="-4" y2="-4" {style}/>'
                           f'<text x="24" y="0">{escape(label)}</text>')

    def band(self, edges: list[float], low: list[float], high: list[float], colour: str,
             label: str) -> None:
        upper = self.steps(edges, high)
        lower = " ".join(reversed(self.steps(edges, low).split(" ")))
        self.parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" '
                          'fill-opacity="0.85" stroke="none"/>')
        self.legend.append(f'<rect x="0" y="-10" width="18" height="10" fill="{colour}"/>'
                           f'<text x="24" y="0">{escape(label)}</text>')

    def svg(self) -> str:
        legend_x = LEFT + PLOT_W + 16
        items = [f'<g transform="translate({legend_x},{self.y_top + 10 + 15 * k})">{item}</g>'
                 for k, item in enumerate(self.legend[: PANEL_H // 15])]
        return "".join(self.parts) + '<g class="lg">' + "".join(items) + "</g>"


def _short(text: str) -> str:
    return text if len(text) <= _LEGEND_CHARS else text[: _LEGEND_CHARS - 1] + "…"


def svg_day(day: DayStaffing, lang: str = "fr") -> str:
    """The whole chart as one SVG document."""
    w = words(lang)
    colon = " : " if lang == "fr" else ": "
    step = day.forecast.interval_min
    minutes = day.minutes
    edges = [m / 60.0 for m in minutes] + [(minutes[-1] + step) / 60.0]
    x0, x1 = edges[0], edges[-1]
    hour_step = 1 if x1 - x0 <= 14 else 2
    totals = day.totals()
    per_group = day.group_agents()
    per = interval_rows(day)
    channels = channels_of(day)
    panels: list[_Panel] = []

    series = {c: [totals[m][f"{c}_arrivals"] for m in minutes] for c in channels}
    top, tick = _nice_max(max((max(v) for v in series.values()), default=1.0))
    arrivals = _Panel(0, x0, x1, top, f"{w['forecast']}{colon}{Path(day.forecast.source).name}",
                      w["contacts_per"].format(m=step))
    arrivals.frame(tick, hour_step, None)
    for k, c in enumerate(channels):
        arrivals.line(edges, series[c], COLOURS[k], w[c], width=1.8)
    panels.append(arrivals)

    for i, c in enumerate(channels, start=1):
        groups = [g for g in day.groups if g.startswith(c + "/")]
        lines = {key: [totals[m][f"{c}_{key}"] for m in minutes]
                 for key in ("processes", "queue", "scheduled")}
        top, tick = _nice_max(max(max(v) for v in lines.values()))
        panel = _Panel(i, x0, x1, top, f"{w[c]}{colon}{w['stacked']}", w["agents"])
        panel.frame(tick, hour_step, None)
        base = [0.0] * len(minutes)
        for j, g in enumerate(groups):
            high = [b + per_group[g].get(m, 0) for b, m in zip(base, minutes)]
            panel.band(edges, base, high, COLOURS[j % len(COLOURS)],
                       _short(_group_label(day, g, lang).split(" / ", 1)[1]))
            base = high
        panel.line(edges, lines["processes"], "#555", w["sum_processes"], dash="5,3")
        panel.line(edges, lines["queue"], "#000", w["one_queue"], width=2.4)
        panel.line(edges, lines["scheduled"], "#17becf", w["shrink_line"], width=1.8)
        panels.append(panel)

    sl = _Panel(len(channels) + 1, x0, x1, 100.0, w["achieved"], w["share"])
    sl.frame(20.0, hour_step, w["time"])
    patience = day.options.get("patience_s") or {}
    for k, c in enumerate(channels):
        rows = [per[m].get(c) for m in minutes]
        sl.line(edges, [100 * r.service_level if r else math.nan for r in rows], COLOURS[k],
                f"{w[c]}{colon}{w['sl']}", width=1.8)
        sl.line(edges, [100 * r.sl_target if r else math.nan for r in rows], COLOURS[k],
                f"{w[c]}{colon}{w['target_of']}", dash="2,3")
        if c in patience:
            sl.line(edges, [100 * r.p_abandon if r else math.nan for r in rows], COLOURS[k],
                    f"{w[c]}{colon}{w['abandon_of']} %", dash="6,3")
    if day.options.get("max_abandon") is not None:
        limit = 100 * day.options["max_abandon"]
        sl.line(edges, [limit] * len(minutes), "#d62728",
                f"{w['max_ab']} {limit:.0f} %", dash="1,2")
    panels.append(sl)

    height = TOP + len(panels) * (PANEL_H + GAP)
    style = ("text{font-family:system-ui,sans-serif;font-size:11px;fill:#222}"
             ".t{font-size:13px;font-weight:600}.a{text-anchor:middle}"
             ".yl{text-anchor:end}.xl{text-anchor:middle}.g{stroke:#ddd}.k{stroke:#444}"
             ".f{fill:none;stroke:#444}.lg text{font-size:10.5px}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" lang="{lang}">'
            f"<title>{escape(w['per_interval'].format(m=step))}</title><style>{style}</style>"
            f'<text x="{LEFT}" y="16" class="yl" style="text-anchor:start;font-size:10px">'
            f"{escape(targets_line(day, lang))}</text>"
            + "".join(p.svg() for p in panels) + "</svg>")


def write_svg(day: DayStaffing, path: Path, lang: str = "fr") -> Path:
    """The chart into ``path``."""
    path.write_text(svg_day(day, lang), encoding="utf-8")
    return path
