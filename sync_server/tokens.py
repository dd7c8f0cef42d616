"""Participation tokens: one update per device per round, without the server learning whose.

Privacy Pass in spirit (RFC 9576; issuance as in RFC 9578's VOPRF tokens), over the VOPRF of
RFC 9497 with the ristretto255-SHA512 suite (`voprf` in Python, `@cloudflare/voprf-ts` in the
worker; the same suite's test vectors hold in both):

1. A device whose visitor granted `improve` picks a random 32-byte nonce, blinds it and asks
   for a token for the open round: `POST /v1/sites/{site}/tokens` with its visitor id, its
   secret (`Authorization: Bearer`) and the blinded element. The server checks the visitor's
   consent and limits, evaluates the blinded element under the round's key and answers with
   the evaluation and a proof that the round's published key made it.
2. The device unblinds it: the token is (round, nonce, authenticator), the authenticator being
   the VOPRF output on the nonce. The server never saw the nonce nor the output, so it cannot
   tell which issuance a token came from.
3. Every update carries one token. The server recomputes the output on the nonce with the
   round's key, refuses a token of another round, and stores the nonce as spent in the
   transaction that stores the update, so a token counts once.

Each (site, round) has its own key, derived from the server key (`DB.key`) and published in the
global model's `federation.token_key` (the model every device fetches alike, so the server
cannot hand one device a key of its own to tag it). A token is thus good in one round only.

>>> keys = TokenKeys(bytes(32))
>>> request = blind()
>>> evaluation = keys.issue("shop", 3, blinded_element(request.blinded))
>>> token = request.finalize(3, evaluation, keys.public_key("shop", 3))
>>> keys.verify("shop", parse_token(token))
True
>>> keys.verify("shop", parse_token({**token, "round": 4})), keys.verify("shop", parse_token(keys.mint("shop", 4)))
(False, True)
>>> network_of("203.0.113.7"), network_of("2001:db8:1:2:3::9")
('203.0.113.0/24', '2001:db8:1::/56')
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import ipaddress
import os

from voprf import ristretto

from sync_server.errors import ApiError
from sync_server.records import Token

NONCE_BYTES = 32
AUTHENTICATOR_BYTES = 64  # a SHA-512 output
TOKEN_FIELDS = {"round", "nonce", "authenticator"}
IPV4_PREFIX, IPV6_PREFIX = 24, 56  # one home or office network: what one client address stands for
KEY_LABEL = b"p13n participation tokens\n"  # keeps these keys apart from the visitor secrets' HMAC
SERVER_KEY_NAME = b"participation tokens"  # what the master key is derived under from the server key


class TokenKeys:
    """The per-(site, round) VOPRF keys, derived from one server key."""

    def __init__(self, master: bytes, cache: int = 64) -> None:
        self._master, self._cache, self._evaluators = master, cache, {}

    def _evaluator(self, site: str, round_: int) -> ristretto.Evaluator:
        key = (site, round_)
        if key not in self._evaluators:
            if len(self._evaluators) >= self._cache:
                del self._evaluators[next(iter(self._evaluators))]
            seed = hmac.new(self._master, KEY_LABEL + site.encode(), hashlib.sha256).digest()
            self._evaluators[key] = ristretto.Evaluator.from_seed(seed, b"round %d" % round_)
        return self._evaluators[key]

    def public_key(self, site: str, round_: int) -> str:
        """The key of `site`'s round `round_`, base64url, as the global model publishes it."""
        return encode(self._evaluator(site, round_).public_key.serialize())

    def issue(self, site: str, round_: int, blinded: ristretto.BlindedInput) -> str:
        """The evaluation of a blinded element and its proof (64 bytes of proof, then the 32-byte
        evaluated element), base64url."""
        return encode(self._evaluator(site, round_).evaluate(blinded).serialize())

    def mint(self, site: str, round_: int) -> dict:
        """A token for `round_` made directly with the key, as an update carries it: for load
        tests and benchmarks that play both sides (a device gets its tokens through `issue`)."""
        nonce = os.urandom(NONCE_BYTES)
        authenticator = self._evaluator(site, round_).evaluate_known_input(nonce)
        return {"round": round_, "nonce": encode(nonce), "authenticator": encode(authenticator)}

    def verify(self, site: str, token: Token) -> bool:
        """Whether `token` was issued by `site`'s key of round `token.round`."""
        expected = self._evaluator(site, token.round).evaluate_known_input(token.nonce)
        return hmac.compare_digest(expected, token.authenticator)


def blinded_element(data: bytes) -> ristretto.BlindedInput:
    """The blinded element a device sent, or a 422 if it is not one."""
    try:
        return ristretto.BlindedInput.deserialize(data)
    except ValueError:
        raise ApiError(422, "invalid_token_request", "blinded is not a ristretto255 element") from None


def parse_token(value: object) -> Token:
    """The token in an update's `token` field, or a 400 naming the problem."""
    if not isinstance(value, dict) or value.keys() != TOKEN_FIELDS:
        raise _invalid(f"token must be an object with exactly {sorted(TOKEN_FIELDS)}")
    round_ = value["round"]
    if isinstance(round_, bool) or not isinstance(round_, int) or not 1 <= round_ < 2**31:
        raise _invalid(f"token.round must be a round number, got {round_!r}")
    return Token(round_, _bytes("token.nonce", value["nonce"], NONCE_BYTES),
                 _bytes("token.authenticator", value["authenticator"], AUTHENTICATOR_BYTES))


def network_of(address: str) -> str:
    """The network a client address belongs to for the per-network limit: its /24 (IPv4) or
    /56 (IPv6), about one household, office or mobile carrier's NAT pool."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a test client, a Unix socket): its own network
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


# The device's side, in Python: the simulated devices (`sync_server.demo.traffic`) and the tests.

@dataclasses.dataclass(frozen=True)
class TokenRequest:
    """A blinded nonce waiting for the server's evaluation."""

    nonce: bytes
    client: ristretto.Client
    blinded: bytes

    def finalize(self, round_: int, evaluation: str, public_key: str) -> dict:
        """The token, as an update carries it; ValueError if the proof does not hold for
        `public_key` (the key the global model published for the round)."""
        output = self.client.finalize(ristretto.VerifiableOutput.deserialize(decode(evaluation)),
                                      ristretto.PublicKey.deserialize(decode(public_key)))
        return {"round": round_, "nonce": encode(self.nonce), "authenticator": encode(output)}


def blind() -> TokenRequest:
    """A fresh random nonce, blinded: what a device sends to ask for a token."""
    nonce = os.urandom(NONCE_BYTES)
    client, blinded = ristretto.Client.blind(nonce)
    return TokenRequest(nonce, client, blinded.serialize())


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bytes(name: str, value: object, size: int) -> bytes:
    try:
        data = decode(value) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        data = b""
    if len(data) != size:
        raise _invalid(f"{name} must be {size} bytes in base64url, got {value!r:.100}")
    return data


def _invalid(detail: str) -> ApiError:
    return ApiError(400, "invalid_token", detail)
