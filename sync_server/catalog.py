"""A site's public catalog: its slots, their variants and features, in the site's own words.

Devices send hashed buckets, never names, so the server cannot read its own model. The
site can: its pages say which variants each slot offers and what features they have.
An admin imports that (a JSON file with the CLI or the dashboard, or fetched from a URL
they give), and the dashboard hashes those names to read weights in the site's words
(`sync_server.admin.features`). Nothing in a catalog is about a visitor: it is what
anyone reading the site's pages sees.

    {"slots": {"picks": [{"id": "tent", "title": "Two-person tent",
                          "features": ["topic:camping", "price:high"]}]},
     "interests": ["hiking", "camping"],
     "pages": ["home", "article"]}

`title` is optional (the id stands in); `interests` are the words the preferences widget
offers, `pages` the page types the snippet is told (`data-page`); both are optional.

>>> catalog = Catalog.parse(b'{"slots": {"picks": [{"id": "tent", "title": "Tent", "features": "topic:camping"}]}}')
>>> catalog.variants(), catalog.features()
([('picks', 'tent', 'Tent')], ['topic:camping'])
>>> Catalog.parse(b'{"slots": {"picks": [{"id": ""}]}}')
Traceback (most recent call last):
...
sync_server.catalog.CatalogError: slots.picks[0].id: must be a non-empty word of at most 200 characters, got ''
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx
import orjson

from sync_server.checks import nests_deeper

MAX_BYTES = 512_000  # thousands of items; a file, a form or a fetched URL alike
MAX_SLOTS, MAX_VARIANTS, MAX_FEATURES, MAX_WORDS = 100, 2_000, 50, 500
MAX_WORD = 200
FETCH_SECONDS = 5.0  # a URL must answer, all of it, within this
KEYS = ("slots", "interests", "pages")
VARIANT_KEYS = ("id", "title", "features")


class CatalogError(ValueError):
    """A catalog is malformed, too big or could not be fetched; the message names the problem."""


@dataclasses.dataclass(frozen=True)
class Catalog:
    """Slots (name -> their variants, each `{"id", "title", "features"}`), interests and page types."""

    slots: dict[str, list[dict]]
    interests: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | bytes) -> Catalog:
        """Check a catalog's JSON text; CatalogError naming the first problem."""
        if len(text) > MAX_BYTES:
            raise CatalogError(f"the catalog is {len(text):,} bytes; the limit is {MAX_BYTES:,}")
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise CatalogError(f"the catalog is not JSON: {error}") from None
        return cls.from_dict(document)

    @classmethod
    def from_dict(cls, document: object) -> Catalog:
        if not isinstance(document, dict) or nests_deeper(document, 6):
            raise CatalogError("the catalog must be a JSON object like {\"slots\": {\"SLOT\": [{\"id\": ...}]}}")
        unknown = sorted(set(document) - set(KEYS))
        if unknown:
            raise CatalogError(f"unknown field {unknown[0]!r}; expected some of {list(KEYS)}")
        slots = document.get("slots")
        if not isinstance(slots, dict) or not 1 <= len(slots) <= MAX_SLOTS:
            raise CatalogError(f"slots: must be an object of 1 to {MAX_SLOTS} slot names to their variants")
        checked = {_word(slot, "slots"): _variants(variants, f"slots.{slot}") for slot, variants in slots.items()}
        if sum(map(len, checked.values())) > MAX_VARIANTS:
            raise CatalogError(f"slots: at most {MAX_VARIANTS:,} variants in all")
        return cls(checked, _words(document.get("interests", []), "interests"), _words(document.get("pages", []), "pages"))

    def to_dict(self) -> dict:
        return {"slots": self.slots, "interests": list(self.interests), "pages": list(self.pages)}

    def variants(self) -> list[tuple[str, str, str]]:
        """Every (slot, variant id, title)."""
        return [(slot, v["id"], v["title"]) for slot, variants in self.slots.items() for v in variants]

    def features(self) -> list[str]:
        """Every variant feature, once, in the catalog's order."""
        return list(dict.fromkeys(f for variants in self.slots.values() for v in variants for f in v["features"]))

    def contexts(self) -> list[str]:
        """The visit context tokens the catalog's words make (`edge.features.context_tokens`)."""
        return [*(f"interest:{i}" for i in self.interests), *(f"page:{p}" for p in self.pages)]


def fetch(url: str, allow_private: bool = False, max_bytes: int = MAX_BYTES, seconds: float = FETCH_SECONDS) -> Catalog:
    """The catalog at an http(s) `url`, read within `max_bytes` and `seconds`; on a public
    address only unless `allow_private` (the CLI, run by the operator on the server itself)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CatalogError(f"the catalog URL must be http:// or https://, got {url[:100]!r}")
    if not allow_private:
        _check_public(parts.hostname)
    body = bytearray()
    try:
        with httpx.stream("GET", url, timeout=seconds, follow_redirects=False) as answer:
            if answer.status_code != 200:
                raise CatalogError(f"{url} answered {answer.status_code}, not 200")
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise CatalogError(f"{url} sent more than {max_bytes:,} bytes; the limit is {max_bytes:,}")
    except httpx.HTTPError as error:
        raise CatalogError(f"could not fetch {url}: {error or type(error).__name__}") from None
    return Catalog.parse(bytes(body))


def _check_public(host: str) -> None:
    """Refuse hosts on private, loopback or link-local addresses: the server must not become a
    way into the network it runs in (a resolver may answer otherwise later: a check, not a wall)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        raise CatalogError(f"cannot resolve {host!r}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise CatalogError(f"{host!r} is a private address ({ip}); give a public URL or import the file")


def _variants(value: object, path: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise CatalogError(f"{path}: must be a non-empty list of variants")
    checked = []
    for i, variant in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(variant, dict) or set(variant) - set(VARIANT_KEYS):
            raise CatalogError(f"{where}: must be an object with some of {list(VARIANT_KEYS)}")
        features = variant.get("features", [])
        features = features.split() if isinstance(features, str) else features
        id_ = _word(variant.get("id"), f"{where}.id")
        title = variant.get("title", id_)
        if not isinstance(title, str) or not 0 < len(title) <= MAX_WORD:
            raise CatalogError(f"{where}.title: must be text of 1 to {MAX_WORD} characters")
        checked.append({"id": id_, "title": title, "features": list(_words(features, f"{where}.features", MAX_FEATURES))})
    return checked


def _words(value: object, path: str, limit: int = MAX_WORDS) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > limit:
        raise CatalogError(f"{path}: must be a list of at most {limit} words")
    return tuple(dict.fromkeys(_word(word, path) for word in value))


def _word(value: object, path: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_WORD or any(c.isspace() for c in value):
        raise CatalogError(f"{path}: must be a non-empty word of at most {MAX_WORD} characters, got {value!r}")
    return value
