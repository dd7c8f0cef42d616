"""A site's key: the public name in `data-site` that every request for the site carries.

>>> parse_site_key("shop-eu_2")
'shop-eu_2'
>>> parse_site_key("shop eu")
Traceback (most recent call last):
...
ValueError: a site key is 1 to 64 letters, digits, '-' or '_', got 'shop eu'
"""

from __future__ import annotations

import re

SITE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
HASH_BITS = range(8, 25)  # edge.features.Hasher's range
# A new site's model has 2^14 weights: noise makes every one of them part of each download
# (about 30 kB in the compact form, compressed). At this size 4 % of the simulated shop's
# features and 19 % of a 7,000-feature catalog's share a bucket, and neither lost quality beyond
# run-to-run noise (`python -m bench model_bytes`, "hash_space"). Existing sites keep theirs.
DEFAULT_HASH_BITS = 14
# Until its editors say otherwise, a site keeps 5 % of its visitors in a site-wide control group
# (the same visitors on every slot, edge.rules) so the dashboard can show what personalization adds
# from the first round: large enough to measure within weeks on a small site, small enough to cost little.
DEFAULT_HOLDOUT = 0.05
DEFAULT_RULES = {"holdout": DEFAULT_HOLDOUT}


def parse_site_key(text: str) -> str:
    """`text` if it can be a site key (it goes into URLs and HTML), else ValueError."""
    if not SITE_KEY.fullmatch(text):
        raise ValueError(f"a site key is 1 to 64 letters, digits, '-' or '_', got {text!r}")
    return text


def parse_hash_bits(text: str) -> int:
    """How many hash bits a new site's model has, from a form or the command line."""
    try:
        bits = int(text)
    except ValueError:
        raise ValueError(f"hash bits must be a whole number, got {text!r}") from None
    if bits not in HASH_BITS:
        raise ValueError(f"hash bits must be from {HASH_BITS.start} to {HASH_BITS.stop - 1}, got {bits}")
    return bits
