"""The report as a list of blocks (headings, paragraphs, tables, images, code) and its two
renderings, Markdown and HTML, so both formats hold the same figures."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any




# ============================================================================= document model
class Code(str):
    """A table cell or text shown as code."""


@dataclass
class Block:
    kind: str  # h1 h2 h3 p table img code
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    path: str = ""  # img: link relative to the report


def heading(level: int, text: str) -> Block:
    return Block(f"h{level}", text)


def para(text: str) -> Block:
    return Block("p", text)


def fmt_num(x: Any, digits: int = 3) -> str:
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def plain(v: Any) -> str:
    return "" if v is None else str(v)


def inline_code(text: Any) -> str:
    """Inline code for paragraphs (backticks removed from the value)."""
    return "`" + str(text).replace("`", "'") + "`"


# ============================================================================= rendering
def _md_cell(v: Any) -> str:
    if isinstance(v, Code):
        text = str(v).replace("\r", "").replace("\n", " ⏎ ")
        text = text.replace("|", "\\|")
        if not text:
            return ""
        run = max((len(m) for m in re.findall(r"`+", text)), default=0)
        fence = "`" * (run + 1)
        pad = " " if text.startswith("`") or text.endswith("`") or run else ""
        return f"{fence}{pad}{text}{pad}{fence}"
    return plain(v).replace("|", "\\|").replace("\n", "<br>")


def render_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("|" + "|".join("---" for _ in b.headers) + "|")
            for row in b.rows:
                out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
        elif b.kind == "img":
            out.append(f"![{b.text}]({b.path})")
        elif b.kind == "code":
            out.append("```sh\n" + b.text + "\n```")
        out.append("")
    return "\n".join(out)


def _html_inline(text: str) -> str:
    s = html.escape(text)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", s)
    return s


def _html_cell(v: Any) -> str:
    if isinstance(v, Code):
        return "<code>" + html.escape(str(v)).replace("\n", "<br>") + "</code>"
    return _html_inline(plain(v))


_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
        "th{background:#f2f2f2}code{background:#f6f6f6;white-space:pre-wrap}"
        "pre{background:#f6f6f6;padding:8px;overflow-x:auto}img{max-width:100%}")


def render_html(blocks: list[Block]) -> str:
    title = next((b.text for b in blocks if b.kind == "h1"), "egcfg report")
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">",
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{_html_inline(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{_html_inline(b.text)}</p>")
        elif b.kind == "table":
            out.append("<table><thead><tr>" + "".join(f"<th>{_html_cell(h)}</th>" for h in b.headers)
                       + "</tr></thead><tbody>")
            for row in b.rows:
                out.append("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>")
            out.append("</tbody></table>")
        elif b.kind == "img":
            out.append(f"<p><img src=\"{html.escape(b.path)}\" alt=\"{html.escape(b.text)}\"></p>")
        elif b.kind == "code":
            out.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
