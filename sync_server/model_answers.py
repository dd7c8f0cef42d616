"""The global model as devices download it: built once per version, off the event loop, in
the form and the coding each device asks for.

Two forms: JSON (`application/json`, the default: weights as exact [bucket, value] pairs)
and the compact form (`application/vnd.p13n.model`, see `edge.model_form`: float16 weights,
a third of the JSON's bytes once both are compressed, the precisions being in both), chosen
by `Accept`. Each is sent brotli-compressed (`br`, with the `brotli` package of the server
extra) or gzipped, as `Accept-Encoding` allows, with `Vary: Accept, Accept-Encoding` and an
ETag of its own.

An answer is built the first time a device asks for it and kept until the version, the
round config or the editor rules change: with a weight and a precision in every bucket,
building the compact form takes 17–26 ms at 2^14 (JSON 130–330 ms) and up to 3 s at 2^18
(`bench model_bytes`), so it runs in a worker thread, never on the event loop, and
concurrent requests wait for the same build. The editor rules (they travel in the
model's `settings`) are read at most once a second per site, and at once after this
process changed them: a rule change reaches the next fetch without every fetch asking SQLite.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gzip
import hashlib
import time

import numpy as np
import orjson

from edge import model_form
from sync_server.records import RoundState
from sync_server.static import accepted
from sync_server.storage import Store
from sync_server.tokens import TokenKeys

try:
    import brotli
except ImportError:  # the server extra brings it; without it devices get gzip
    brotli = None

FORMS = {"json": "application/json", "compact": model_form.MEDIA_TYPE}
CODINGS = ("br", "gzip") if brotli else ("gzip",)  # the smallest the device accepts comes first
BROTLI_QUALITY = 5  # 11 saves 4 % on the compact form and costs 100 times the time
RULES_TTL_SECONDS = 1.0  # rules another process set reach devices within this long


@dataclasses.dataclass(frozen=True)
class Answer:
    """One representation of one model version, ready to send."""

    body: bytes
    etag: str
    media_type: str
    encoding: str | None  # its Content-Encoding; None: as it is


def negotiate(accept: str, accept_encoding: str) -> tuple[str, str | None]:
    """The form and coding to send, given the request's `Accept` and `Accept-Encoding`.

    >>> negotiate("application/vnd.p13n.model", "gzip, deflate, br")
    ('compact', 'br')
    >>> negotiate("*/*", "gzip")
    ('json', 'gzip')
    >>> negotiate("", "identity")
    ('json', None)
    """
    form = "compact" if model_form.MEDIA_TYPE in accepted(accept) else "json"
    codings = accepted(accept_encoding)
    return form, next((coding for coding in CODINGS if coding in codings), None)


class ModelAnswers:
    """The answers of `GET /v1/sites/{site}/model`, by site, for the newest version only."""

    def __init__(self, store: Store, token_keys: TokenKeys) -> None:
        self.store = store  # the event loop's connection: one short read per new version
        self.token_keys = token_keys  # the open round's public key goes with the model
        self._built: dict[str, tuple[tuple, dict, np.ndarray, np.ndarray, dict]] = {}  # site -> its answers
        self._rules: dict[str, tuple[float, int, tuple[int, dict]]] = {}  # site -> (read at, changes seen, rules)

    async def answer(self, state: RoundState, form: str, encoding: str | None) -> Answer:
        """The model of `state.version` in `form` and `encoding`; UnknownSite for a retired key."""
        rules_version, rules = self._editor_rules(state.site)
        key = (state.version, state.config, state.accepting, rules_version)
        built = self._built.get(state.site)
        if built is None or built[0] != key:
            intercept, idx, val = self.store.model_arrays(state.site, state.version)
            _, stated, precisions = self.store.model_precisions(state.site, state.version)
            header = {"site": state.site, "version": state.version, "intercept": intercept,
                      # the posterior's precisions, the privacy noise weighed in (sync_server/posterior.py),
                      # to 3 significant digits: a device's prior needs no more
                      "precisions": [[b, float(f"{p:.3g}")] for b, p in zip(stated.tolist(), precisions.tolist())],
                      "noise_variance": 0.0,  # weighed into the precisions already
                      "hash_bits": state.buckets.bit_length() - 1,
                      "federation": {**state.config.for_devices(), "accepting_updates": state.accepting,
                                     "token_key": self.token_keys.public_key(state.site, state.version + 1)},
                      "settings": {"rules": rules}}
            built = self._built[state.site] = (key, header, idx, val, {})
        _, header, idx, val, answers = built
        found = answers.get((form, encoding))
        if isinstance(found, Answer):
            return found
        if found is None:  # the first request for it builds it; the others wait for that build
            work = functools.partial(build, header, idx, val, form, encoding)
            found = answers[form, encoding] = asyncio.get_running_loop().run_in_executor(None, work)
        try:
            answer = await asyncio.shield(found)  # a device hanging up cancels only its own wait
        except asyncio.CancelledError:
            raise
        except Exception:
            answers.pop((form, encoding), None)  # the next request tries again
            raise
        answers[form, encoding] = answer
        return answer

    def forget(self, site: str) -> None:
        """Drop what is kept for `site` (its key was rotated)."""
        self._built.pop(site, None)
        self._rules.pop(site, None)

    def _editor_rules(self, site: str) -> tuple[int, dict]:
        now, changes = time.monotonic(), self.store.rules_changes
        cached = self._rules.get(site)
        if cached is None or cached[1] != changes or now - cached[0] >= RULES_TTL_SECONDS:
            cached = self._rules[site] = (now, changes, self.store.editor_rules(site))
        return cached[2]


def build(header: dict, idx: np.ndarray, val: np.ndarray, form: str, encoding: str | None) -> Answer:
    """One representation of a model: `header` is every field but the weights, `val` the
    nonzero weights at buckets `idx`."""
    if form == "compact":
        body = model_form.encode(header, idx.tolist(), val.tolist())
    else:
        body = orjson.dumps({**header, "weights": list(zip(idx.tolist(), val.tolist()))})
    tag = hashlib.sha256(body).hexdigest()[:32]
    if encoding == "br":
        body = brotli.compress(body, quality=BROTLI_QUALITY)
    elif encoding == "gzip":
        body = gzip.compress(body, mtime=0)
    return Answer(body, f'"{tag}{"-" + encoding if encoding else ""}"', FORMS[form], encoding)
