"""robots.txt (RFC 9309) and the records it carries, plus Spawning ``ai.txt``.

Pure code: :meth:`RobotsTxt.parse` reads the bytes once (never raises) and
:meth:`RobotsTxt.signals` answers per URL.  Where RFC 9309 and Protego differ,
the RFC wins:

* group selection compares the product token (§2.2.1) exactly, so a group for
  ``GPTBot`` does not bind ``GPTBot-Image``;
* records outside the protocol (Crawl-delay, Sitemap, License, unknown lines)
  never end a group and never close its run of ``user-agent`` lines (§2.2.4:
  other records MUST NOT interfere), where Protego starts a new group;
* ``/index.html`` is not the same path as ``/``;
* a ``?`` in a pattern counts as one octet (Protego counts ``%3F``, three);
* a user-agent value that is not a bare token (``Sogou web spider/4.0``) names
  its leading token (``Sogou``), as Google's parser reads it; Protego matches
  no crawler to it.  A name is the whole token as written: ``CCBot/2.0`` names
  ``CCBot``, but ``Bot2000`` is not ``Bot`` (:func:`~noai_guard.tokens.product_token`);
* ``%24`` / ``%2A`` in a pattern match a literal ``$`` / ``*`` in the URL (§2.2.3);
* rules match the URL's path with its dot segments removed (RFC 3986 §5.2.4):
  ``/./private/x`` is ``/private/x``.

Where Google's parser (the RFC's reference implementation) reads a file more
leniently than the RFC's grammar, we read it as Google does, because
webmasters check their files against it, and say so in the signal's note:
``User-agent: * more text`` is the ``*`` line; keys that start with
``user-agent`` / ``useragent`` / ``user agent``, ``allow``, or ``disallow`` and
its misspellings (``dissallow``, ``dissalow``, ``disalow``, ``diasllow``,
``disallaw``) are those keys; a line of two words without a colon
(``Disallow /x``) is a record of those keys.

The extension records that their own specs place *in* a group as rules
(Content-Usage, aipref attach §3; Content-Signal; DisallowAITraining) close
the run of user-agent lines like ``allow``/``disallow`` do, so
``User-agent: *`` / ``Content-Signal: ...`` / ``User-agent: examplebot`` is
two groups (conformance vector 25), not one.

Records read beside the protocol (§2.2.4): ``Content-Usage`` (aipref attach
§3), ``Content-Signal`` (Cloudflare), ``License`` (RSL 1.0), ``DisallowAITraining``
/ ``AllowAITraining`` (draft-canel, expired), ``Crawl-delay`` and ``Sitemap``.

The package, by job: :mod:`.rules` (paths, patterns, rule matching),
:mod:`.grammar` (the file's lines read into groups and records),
:mod:`.groups` (which groups bind a token), :mod:`.file` (:class:`RobotsTxt`),
:mod:`.signals` (evaluation per URL), :mod:`.extensions` (the records beside
the protocol) and :mod:`.aitxt` (ai.txt).
"""

from __future__ import annotations

from .aitxt import ai_txt_path_rules, ai_txt_signals
from .file import RobotsTxt
from .grammar import DEFAULT_LIMIT, OK, UNAVAILABLE, UNREACHABLE
from .rules import _INDEX_MIN as _INDEX_MIN  # the rule index, for its equivalence tests and benchmarks
from .rules import _Rule as _Rule
from .rules import _RuleList as _RuleList
from .rules import _WildIndex as _WildIndex
from .rules import match_form, matches_every_path, normalise, url_path

__all__ = [
    "DEFAULT_LIMIT",
    "OK",
    "UNAVAILABLE",
    "UNREACHABLE",
    "RobotsTxt",
    "ai_txt_path_rules",
    "ai_txt_signals",
    "match_form",
    "matches_every_path",
    "normalise",
    "url_path",
]
