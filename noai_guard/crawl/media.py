"""Internal: the crawl's memory of media reserved by the pages that embed them (item 4: ``embedding-page``).

Internal to :mod:`noai_guard.crawl`.  A page whose own noai / noimageai
reserves the images it embeds (noai / noml: its audio and video too) hands the
engine's :class:`~noai_guard.engine.MediaReservation` here; a later request for
one of those URLs is judged by :meth:`noai_guard.engine.Judge.by_embedding_page`.
Bounded: the least recently remembered image URLs are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from ..engine import MediaReservation, media_key
from .page import url_key

__all__ = ["MediaStore"]


class MediaStore:
    """Media URL (fragment dropped) -> the reservation of the page that embeds it; LRU, ``size`` URLs."""

    __slots__ = ("size", "urls")

    def __init__(self, size: int) -> None:
        self.size = size
        #: Image URL key -> reservation; callers may test it for emptiness (never rebound).
        self.urls: OrderedDict[str, MediaReservation] = OrderedDict()

    def __len__(self) -> int:
        return len(self.urls)

    def get(self, url: str) -> MediaReservation | None:
        """The reservation covering ``url`` (a request URL, already percent-encoded), if remembered."""
        return self.urls.get(url_key(url)) if self.urls else None

    def remember(self, media: MediaReservation) -> int:
        """Remember every URL ``media`` lists; returns how many.

        One reservation object, without the URL list, is shared by all the
        page's images, so the store's size bounds its memory.  Each URL is
        keyed as a request for it is (:func:`~noai_guard.engine.media_key`, the
        audit's key too); one w3lib cannot make safe is kept as it is, not
        raised from the response hook.
        """
        n = 0
        store = self.urls
        # The images, then the audio and video (issue 15 item 0), each with its own signal.
        for part in media.parts():
            ref = replace(part, urls=())
            for media_url in part.urls:
                key = media_key(media_url)
                store[key] = ref
                store.move_to_end(key)
            n += len(part.urls)
        while len(store) > self.size:
            store.popitem(last=False)
        return n
