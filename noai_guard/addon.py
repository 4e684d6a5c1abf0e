"""Scrapy add-on: ``ADDONS = {"noai_guard.NoAIGuardAddon": 0}`` is all a project needs.

It turns noai_guard on (``NOAI_GUARD_ENABLED = True`` at add-on priority, so an
explicit project or spider setting still wins) and installs both downloader
middlewares where they must sit, unless the project already lists them:

- ``NoAIGuardMiddleware`` at 90: after ``OffsiteMiddleware`` (50), before
  ``RobotsTxtMiddleware`` (100), so a reserved request is skipped before any
  other work and Scrapy's robots.txt request is answered from noai_guard's fetch;
- ``NoAIGuardResponseMiddleware`` at 950: its ``process_response`` runs before
  ``HttpCacheMiddleware`` (900) stores a response;

and the spider middleware ``NoAIGuardProvenanceMiddleware`` at 10 (engine
side), which is off (``NotConfigured``) unless ``NOAI_GUARD_ITEM_PROVENANCE``
names an item field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .crawl import (
    PROVENANCE_PRIORITY,
    REQUEST_PRIORITY,
    RESPONSE_PRIORITY,
    NoAIGuardMiddleware,
    NoAIGuardProvenanceMiddleware,
    NoAIGuardResponseMiddleware,
)

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


class NoAIGuardAddon:
    """Enable noai_guard with one ``ADDONS`` line."""

    def update_settings(self, settings: BaseSettings) -> None:
        settings.set("NOAI_GUARD_ENABLED", True, priority="addon")
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", NoAIGuardMiddleware, REQUEST_PRIORITY
        )
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", NoAIGuardResponseMiddleware, RESPONSE_PRIORITY
        )
        settings.setdefault_in_component_priority_dict(
            "SPIDER_MIDDLEWARES", NoAIGuardProvenanceMiddleware, PROVENANCE_PRIORITY
        )


__all__ = ["NoAIGuardAddon"]
