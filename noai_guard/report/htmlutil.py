"""Internal: escape-by-default HTML building: every value is escaped unless it is :class:`Markup`.

:class:`Markup` marks a fragment this package built itself from escaped
parts; nothing read from a trail is ever wrapped in it directly.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence


class Markup(str):
    """A trusted HTML fragment (built from escaped parts)."""

    __slots__ = ()


def esc(v: object) -> Markup:
    """Escape for text and quoted attributes (``html.escape(quote=True)``); Markup passes through."""
    if isinstance(v, Markup):
        return v
    if v is None:
        return Markup("")
    if isinstance(v, bool):
        return Markup("yes" if v else "no")
    if isinstance(v, int):
        return Markup(f"{v:,}")
    return Markup(html.escape(str(v), quote=True))


def tag(name: str, content: object = "", *, cls: str | None = None, **attrs: str) -> Markup:
    """``<name class=... attr=...>content</name>``; ``name`` and attribute names are code, values escaped."""
    a = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    c = f' class="{esc(cls)}"' if cls else ""
    return Markup(f"<{name}{c}{a}>{esc(content)}</{name}>")


def join(parts: Iterable[object], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Sequence[int] = (),
    code: Sequence[int] = (),
    wide: Sequence[int] = (),
    cls: str = "",
    caption: str | None = None,
) -> Markup:
    """A scrollable table with a sticky header; ``numeric`` / ``code`` / ``wide`` are column indexes."""
    num = set(numeric)
    cod = set(code)
    wid = set(wide)
    head = "".join(
        (f'<th scope="col" class="n">{esc(h)}</th>' if i in num else f'<th scope="col">{esc(h)}</th>')
        for i, h in enumerate(headers)
    )
    body: list[str] = []
    n = 0
    for row in rows:
        n += 1
        cells = []
        for i, v in enumerate(row):
            c = "n" if i in num else ("code" if i in cod else ("wide" if i in wid else ""))
            cells.append(f'<td class="{c}">{esc(v)}</td>' if c else f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if n == 0:
        body.append(f'<tr><td colspan="{len(headers)}" class="empty">none</td></tr>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return Markup(
        f'<div class="tbl {esc(cls)}"><table>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
