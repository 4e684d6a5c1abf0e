"""Internal: the spider middleware that stamps each item with the provenance of the response it came from.

Internal to :mod:`noai_guard.crawl`.  ``NOAI_GUARD_ITEM_PROVENANCE = True``
(field ``noai_guard``) or ``= "field name"`` adds to every item a spider yields
from a response a compact dict, for dataset cards: the decision's verdict,
whether it blocked (audit-only mode lets such items through), the deciding
signal's name and short evidence, the policy hash and the crawl's run id
(which name the run and summary records of the audit trail).  Not the whole
:class:`~noai_guard.decision.Decision` (1.8 KB as a trail record).

Items are written through :class:`itemadapter.ItemAdapter`, so dicts, Scrapy
``Item``, dataclass, attrs and pydantic items all work; an item that cannot
take the field (no such declared field, frozen, not an item) passes through
unchanged, counted in ``noai_guard/provenance/unstampable``, with one warning
per item class.  An item from a response noai_guard did not judge (the
request carried ``dont_obey_noai``, or was not HTTP(S)) is stamped with
verdict ``not-checked``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exceptions import NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from ..decision import Decision
from ..settings import DEFAULT_FIELD, PROVENANCE_SETTING, provenance_field
from .guard import Guard
from .keys import META_BYPASS, META_DECISION

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_FIELD",
    "NOT_CHECKED",
    "PROVENANCE_SETTING",
    "NoAIGuardProvenanceMiddleware",
    "provenance_field",
]

#: The verdict stamped on an item from a response noai_guard did not judge.
NOT_CHECKED = "not-checked"
# Evidence longer than this is cut (with "…"): the stamp names the signal, the trail has it all.
EVIDENCE_CHARS = 160


def _short(text: str | None) -> str | None:
    if text is None or len(text) <= EVIDENCE_CHARS:
        return text
    return text[: EVIDENCE_CHARS - 1] + "…"


class NoAIGuardProvenanceMiddleware(BaseSpiderMiddleware):
    """Spider middleware: stamp every item a callback yields with its response's decision (compact)."""

    def __init__(self, crawler: Crawler) -> None:
        field = provenance_field(crawler.settings)
        if field is None:
            raise NotConfigured
        super().__init__(crawler)
        self.field = field
        self.guard = Guard.for_crawler(crawler)  # NotConfigured when noai_guard is off
        assert crawler.stats is not None
        self.stats = crawler.stats
        self._warned: set[type] = set()

    def stamp(self, response: Response) -> dict[str, Any]:
        """The provenance dict of ``response`` (a new dict each call)."""
        meta = response.meta if response.request is not None else {}
        decision = meta.get(META_DECISION)
        if isinstance(decision, Decision):
            s = decision.decided_by
            return {
                "verdict": decision.verdict.value,
                "blocked": decision.blocked,
                "signal": None if s is None else s.name,
                "evidence": None if s is None else _short(s.evidence),
                "policy_hash": decision.policy_hash,
                "run_id": self.guard.run_id,
            }
        return {
            "verdict": NOT_CHECKED,
            "blocked": False,
            "signal": None,
            "evidence": META_BYPASS if meta.get(META_BYPASS) else "not judged (not an HTTP(S) response)",
            "policy_hash": self.guard.policy.hash,
            "run_id": self.guard.run_id,
        }

    def get_processed_item(self, item: Any, response: Response | None) -> Any:
        if response is None:  # an item from start(): no response, nothing to stamp
            return item
        try:
            adapter = ItemAdapter(item)
            adapter[self.field] = self.stamp(response)
        except Exception as exc:  # noqa: BLE001  # no such field, a frozen item, not an item: never a crash
            self._unstampable(item, exc)
            return item
        self.stats.inc_value("noai_guard/provenance/stamped")
        return item

    def _unstampable(self, item: Any, exc: Exception) -> None:
        self.stats.inc_value("noai_guard/provenance/unstampable")
        cls = type(item)
        if cls in self._warned:
            return
        self._warned.add(cls)
        logger.warning(
            "noai_guard: %(setting)s: cannot stamp %(cls)s items with %(field)r (%(error)s); "
            "declare the field (scrapy.Field(), or a dataclass / attrs field with a default) or yield "
            "dicts. Such items pass through unstamped, counted in noai_guard/provenance/unstampable "
            "(this warning is given once per item class)",
            {
                "setting": PROVENANCE_SETTING,
                "cls": f"{cls.__module__}.{cls.__qualname__}",
                "field": self.field,
                "error": f"{type(exc).__name__}: {exc}",
            },
            extra={"spider": self.crawler.spider},
        )
