"""Internal: the one hardened XML parser for the XML documents read from sites (XMP packets, RSL licences)."""

from __future__ import annotations

from lxml import etree


def hardened_parser() -> etree.XMLParser:
    """No DTD loaded, no entity substituted, no network, libxml2's own depth and size limits
    kept (huge_tree off), comments and processing instructions dropped; not recovering."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )
