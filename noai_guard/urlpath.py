"""Internal: the one place where a URL path's dot segments are removed, for every path matcher.

Pure code.  robots.txt and ai.txt (:func:`noai_guard.robots.url_path`), tdmrep.json
locations (:mod:`noai_guard.tdmrep`) and the per-origin fast path
(:class:`noai_guard.evaluate.SiteEval`) all match rules against a path with its
dot segments removed, so ``/./private/x`` and ``/public/../private/x`` are read as
the ``/private/x`` a server resolves them to.
"""

from __future__ import annotations

# A segment that is "." or "..", each dot possibly written %2E (RFC 3986 §2.3: "%2E" is the
# unreserved ".", equivalent to it, §6.2.2.2; the WHATWG URL Standard reads these as dot
# segments too).  Compared after lowercasing.
_DOT = frozenset({".", "%2e"})
_DOTDOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def remove_dot_segments(path: str) -> str:
    """``path`` (an absolute path, with an optional ``?query`` left as it is) without dot segments.

    RFC 3986 §5.2.4 (``remove_dot_segments``) and §6.2.2.3: ``/a/./b`` and
    ``/a/x/../b`` are ``/a/b``; a ``..`` above the root is dropped (``/../a`` is
    ``/a``); a final ``.`` or ``..`` leaves a trailing ``/``.  Segments of
    percent-encoded dots (``%2e``, ``.%2E``) are dot segments too, so the result
    is the same whether percent-encoding was normalised before or after.  Empty
    segments (``//``) and an encoded slash (``%2F``) are kept: they are not dot
    segments.

    >>> remove_dot_segments("/public/%2e%2e/private/x?a=/../b")
    '/private/x?a=/../b'
    """
    head, q, query = path.partition("?")
    # A dot segment starts right after a "/" with "." or "%2E"/"%2e".
    if "/." not in head and "/%2" not in head:
        return path
    if not head.startswith("/"):
        return path  # not an absolute path: nothing to resolve against
    segs = head.split("/")
    last = len(segs) - 1
    out: list[str] = []
    trailing = False
    for i in range(1, len(segs)):
        s = segs[i]
        low = s.lower() if "%" in s else s
        if low in _DOT:
            trailing = i == last
        elif low in _DOTDOT:
            if out:
                out.pop()
            trailing = i == last
        else:
            out.append(s)
            trailing = False
    res = "/" + "/".join(out)
    if trailing and out:
        res += "/"
    return res + q + query
