"""The HTML shell of bench reports: one self-contained page, no script, no external resource."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .plots figure { margin: 0; flex: 1 1 480px; }
svg { max-width: 100%; height: auto; }
.warn { color: #8a5a00; } .pass { color: #137333; } .fail { color: #b00020; }
dl.formulas dt { font-weight: bold; } dl.formulas dd { margin: 0 0 0.4em 1.5em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 12px; }
.muted { color: #777; }
"""


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: Sequence[str]) -> str:
    """A complete HTML document with the styles inline."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def section(heading: str, *parts: str) -> str:
    return f"<section>\n<h2>{escape(heading)}</h2>\n" + "\n".join(parts) + "\n</section>"


def paragraph(text: str, css: str | None = None) -> str:
    klass = f' class="{css}"' if css else ""
    return f"<p{klass}>{escape(text)}</p>"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, classes: Sequence[str] = ()) -> str:
    """A table of text cells (escaped); ``classes`` optionally styles each row."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = classes[index] if index < len(classes) and classes[index] else ""
        attr = f' class="{css}"' if css else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


def figures(svgs: Sequence[tuple[str, str]]) -> str:
    """Inline SVG plots with their captions, side by side where the page is wide enough."""
    items = [f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>" for caption, svg in svgs]
    return '<div class="plots">\n' + "\n".join(items) + "\n</div>"


def bullet_list(items: Sequence[str], css: str | None = None) -> str:
    klass = f' class="{css}"' if css else ""
    return f"<ul{klass}>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def definitions(terms: Mapping[str, str]) -> str:
    """The formulas: a definition list, metric -> how it is computed."""
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in terms.items())
    return f'<dl class="formulas">{rows}</dl>'


def json_block(data: Any) -> str:
    return f"<pre>{escape(json.dumps(data, indent=2, sort_keys=True, default=str))}</pre>"
