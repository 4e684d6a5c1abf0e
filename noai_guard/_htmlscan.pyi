# Internal: the C implementation of noai_guard.htmlscan (built optionally from _htmlscan.c).

HEAD_END: int
HEAD_END_LOOSE: int
UNSURE: int

def scan_head_tags(
    data: bytes, limit: int, eof: bool, tokens: tuple[bytes, ...], exact: bool = ..., /
) -> tuple[int, int, tuple[tuple[int, int], ...]]: ...
def media_tags(
    data: bytes, limit: int, names: tuple[bytes, ...], /
) -> tuple[int, tuple[tuple[int, int, int, int], ...]]: ...
