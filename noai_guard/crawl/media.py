"""Internal: the crawl's memory of media reserved by the pages that embed them (item 4: ``embedding-page``).

Internal to :mod:`noai_guard.crawl`.  A page whose own noai / noimageai
reserves the images it embeds hands the engine's
:class:`~noai_guard.engine.MediaReservation` here; a later request for one of
those images is judged by :meth:`noai_guard.engine.Judge.by_embedding_page`.
Bounded: the least recently remembered image URLs are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from w3lib.url import safe_url_string

from ..engine import MediaReservation
from .page import url_key

__all__ = ["MediaStore"]


class MediaStore:
    """Image URL (fragment dropped) -> the reservation of the page that embeds it; LRU, ``size`` URLs."""

    __slots__ = ("_by_url", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._by_url: OrderedDict[str, MediaReservation] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_url)

    def get(self, url: str) -> MediaReservation | None:
        """The reservation covering ``url`` (a request URL, already percent-encoded), if remembered."""
        return self._by_url.get(url_key(url)) if self._by_url else None

    def remember(self, media: MediaReservation) -> int:
        """Remember every URL ``media`` lists; returns how many.

        One reservation object, without the URL list, is shared by all the
        page's images, so the store's size bounds its memory.
        """
        if not media.urls:
            return 0
        ref = replace(media, urls=())
        store = self._by_url
        for image_url in media.urls:
            key = url_key(safe_url_string(image_url))
            store[key] = ref
            store.move_to_end(key)
        while len(store) > self.size:
            store.popitem(last=False)
        return len(media.urls)
