"""datatrove pipeline blocks: index site-file captures, read WARC files for judging, drop what is reserved.

Install with ``pip install 'noai-guard[datatrove]'`` (issue 16).  Three blocks
compose in the datatrove way; datatrove's executors (Local, Slurm, Ray) run
them, its completions make reruns skip finished tasks::

    LocalPipelineExecutor(pipeline=[                      # stage 1: the capture index
        NoaiCaptureIndexer("capidx/", warcs="robotstxt/"),
    ], tasks=4, logging_dir="logs/index").run()
    LocalPipelineExecutor(pipeline=[                      # stage 2: the audit
        NoaiWarcReader("crawl/"),
        NoaiGuardFilter("trails/", index="capidx/"),
        JsonlWriter("kept/"),
    ], tasks=4, workers=2, logging_dir="logs/audit").run()

:class:`NoaiCaptureIndexer` reads site-file captures (Common Crawl's
``robotstxt/`` WARCs, any WARC's captures, ``--robots-from`` folders) into an
on-disk index keyed by origin and capture date, sharded by a hash of the host
so that a task of the audit opens only the shards of the hosts it meets
(:class:`ShardedCaptureIndex`, read-only).  :class:`NoaiWarcReader` reads WARC
files with :func:`noai_guard.archives.iter_warc` (FastWARC), the audit's reader,
and keeps what judging needs in ``Document.metadata``.  :class:`NoaiGuardFilter`
judges each document with :class:`noai_guard.auditing.Judge` (the audit's
capture selection: the capture at or before the record's date) and the
engine, drops reserved documents and writes each task's trail
``<rank>.trail.jsonl`` in the audit schema (:mod:`noai_guard.auditlog`),
whole or not at all (written aside, renamed at the task's end), which
``noai-guard report`` reads.

Remote inputs (``s3://``, ``https://``: any datatrove / fsspec file system)
are copied to a local temporary file one at a time, since FastWARC reads a
local file; outputs are written locally and moved into place at the task's end.

Image provenance across records (``embedding-page``: a reserving page
anywhere in the inputs flags the images, audio and video it embeds) needs
every task's output at once: the filter keeps what ``noai-guard audit``'s
worker keeps (the reserving pages' media, the records a page may reserve) and
publishes it beside its trail; :class:`NoaiMediaMatcher`, a last stage
(``tasks=1``, ``depends=`` on the audit), matches them with the audit's own
code, brings the trails up to date and lists the records to take out of what
the audit stage kept.  Until it has run, the summaries say ``embedding-page``
is not checked.  ``Document.text`` is the decoded start of the page that
judging read (its head), not the whole body.
"""

from __future__ import annotations

from .filter import NoaiGuardFilter
from .index import NoaiCaptureIndexer, ShardedCaptureIndex
from .media import NoaiMediaMatcher, match_media
from .reader import NoaiWarcReader

__all__ = [
    "NoaiCaptureIndexer",
    "NoaiGuardFilter",
    "NoaiMediaMatcher",
    "NoaiWarcReader",
    "ShardedCaptureIndex",
    "match_media",
]
