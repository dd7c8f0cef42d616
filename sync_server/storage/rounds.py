"""Federated rounds: device updates, per-site round configs, global model versions, closed
rounds and their analytics, and the participation tokens issued and spent.

A delta's buckets and values are stored as packed int32 and float64 arrays (machine byte
order): a 300-weight update fits one 4 KiB page, where JSON text would spill over. A global
model's weights are packed the same way, buckets then weights in one blob: once noise has
touched every bucket a model has 2^hash_bits of them, and a round reads and writes it whole.

Issuance names the visitor and spending does not, and no column is shared but the round:
the server cannot tell which issued token an update spent.

Every transaction that reads a site's open round and writes by it takes the lock
`round:SITE`, so on PostgreSQL, too, each round closes exactly once and no update lands in
a round that has closed.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import logging
import struct
import time
from collections.abc import Sequence

import numpy as np
import orjson

from sync_server.aggregation import Delta
from sync_server.records import ClosedRound, Counter, RoundConfig, RoundState, Update
from sync_server.storage.database import Database
from sync_server.storage.errors import (
    TokenExpired,
    TokenRefused,
    TokenSpent,
    UnknownSite,
)

YEAR = 365 * 86_400.0
IDX, VAL = np.dtype("=i4"), np.dtype("=f8")  # machine byte order, as rows have always been packed
UPDATE_COLUMNS = ("id", "site", "round", "base_version", "samples", "intercept", "idx", "val", "counters",
                  "update_id", "received_at", "intercept_curvature", "curvature")


class RoundStore:
    db: Database

    def round_lock(self, site: str) -> str:
        """The lock name of `site`'s open round (see `Database.transaction`)."""
        return f"round:{site}"

    def latest_model(self, site: str) -> dict:
        """The newest global model of `site`, as devices receive it."""
        self.site(site)
        row = self.db.row("SELECT version, intercept, weights FROM models WHERE site = ?"
                          " ORDER BY version DESC LIMIT 1", [site])
        return {"site": site, "version": row["version"], "intercept": row["intercept"],
                "weights": _pairs(*_unpack_weights(row["weights"]))}

    def round_config(self, site: str) -> RoundConfig:
        """How `site` runs its rounds (the defaults until someone configures it)."""
        self.site(site)
        stored = self.db.value("SELECT config FROM round_configs WHERE site = ?", [site])
        if stored is None:
            return RoundConfig()
        config, problems = RoundConfig.load(json.loads(stored))
        for problem in problems:
            _warn_once(f"site {site!r}: the stored round config was bad ({problem}); using {config}")
        return config

    def set_round_config(self, site: str, config: RoundConfig) -> None:
        self.site(site)
        with self.db.transaction():
            self.db.execute("INSERT INTO round_configs (site, config) VALUES (?, ?)"
                            " ON CONFLICT (site) DO UPDATE SET config = excluded.config",
                            [site, json.dumps(dataclasses.asdict(config))])

    def round_state(self, site: str) -> RoundState:
        """Where `site`'s rounds stand, read from the tables: the truth every server process shares."""
        buckets = 1 << self.site(site)["hash_bits"]
        closed = [ClosedRound(*r) for r in self.db.execute(
            "SELECT closed_at, noise_multiplier, clip_norm, learning_rate, devices FROM rounds WHERE site = ?"
            " ORDER BY version", [site]).rows]
        round_, pending, opened_at = self.open_round(site)
        return RoundState(site, buckets, round_ - 1, self.round_config(site), closed, pending, opened_at)

    def open_round(self, site: str) -> tuple[int, int, float | None]:
        """The open round of `site`: its number, its updates so far, and when the first came."""
        round_ = self._open_round_number(site)
        size = self.db.execute("SELECT updates, opened_at FROM round_sizes WHERE site = ? AND round = ?",
                               [site, round_]).fetchone()
        return (round_, *size) if size else (round_, 0, None)

    def _open_round_number(self, site: str) -> int | None:
        return self.db.value("SELECT max(version) + 1 FROM models WHERE site = ?", [site])

    def add_updates(self, updates: list[tuple[str, Update]]) -> list[int | None | LookupError]:
        """Store (site, update) pairs in the open rounds, in one transaction, spending their
        tokens in it too; the id of each, None for a replay (an update_id the site already has),
        TokenSpent or TokenExpired for a token spent already or of a closed round, or UnknownSite
        for a site that is gone (its key was rotated since the update was checked).

        A handful of statements for the whole batch, whatever its size: every call into the
        database lets go of the GIL, and getting it back from a busy event loop is slow.
        """
        ids: list[int | None | LookupError] = []  # a row's index, then its id
        rows, now = [], time.time()
        sites = {site for site, _ in updates}
        with self.db.transaction(*map(self.round_lock, sites)):
            rounds = {site: self._open_round_number(site) for site in sites}
            seen = self.db.existing("updates", ("site", "update_id"),
                                    {(site, u.update_id) for site, u in updates if u.update_id is not None})
            spent = self.db.existing("spent_tokens", ("site", "nonce"),
                                     {(site, u.token.nonce.hex()) for site, u in updates if u.token is not None})
            spending: list[tuple[str, int, str]] = []
            for site, u in updates:
                if rounds[site] is None:  # no model: no such site
                    ids.append(UnknownSite(site))
                    continue
                if u.update_id is not None and (site, u.update_id) in seen:
                    ids.append(None)  # a retry of an update stored already: its token was spent by it
                    continue
                if u.token is not None:
                    nonce = u.token.nonce.hex()
                    if u.token.round != rounds[site]:
                        ids.append(TokenExpired(u.token.round))
                        continue
                    if (site, nonce) in spent:
                        ids.append(TokenSpent(nonce))
                        continue
                    spent.add((site, nonce))
                    spending.append((site, u.token.round, nonce))
                if u.update_id is not None:
                    seen.add((site, u.update_id))
                # A click slot's row has no conversions: five fields, as rows were before conversions.
                rows_of = [tuple(c)[: 5 if c.conversions is None else 6] for c in u.counters]
                counters = orjson.dumps(rows_of).decode() if u.counters else None
                rows.append((site, rounds[site], u.base_version, u.samples, u.intercept, _packed(u.idx, IDX),
                             _packed(u.val, VAL), counters, u.update_id, now, u.intercept_curvature,
                             _packed(u.curvature, VAL)))
                ids.append(len(rows) - 1)  # its row, until the rows have their ids
            new_ids = self.db.next_ids("updates", len(rows)) if rows else []
            ids = [new_ids[i] if isinstance(i, int) else i for i in ids]
            rows = [(id_, *row) for id_, row in zip(new_ids, rows)]
            self.db.insert_rows("updates", UPDATE_COLUMNS, rows)
            self.db.insert_rows("spent_tokens", ("site", "round", "nonce"), spending)
            sizes = collections.Counter(row[1] for row in rows)  # updates stored, by site
            self.db.executemany(
                "INSERT INTO round_sizes (site, round, updates, opened_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (site, round) DO UPDATE SET updates = round_sizes.updates + excluded.updates",
                [(site, rounds[site], count, now) for site, count in sizes.items()])
        return ids

    def round_updates(self, site: str, round_: int) -> tuple[list[Delta], list[list[Counter]]]:
        """The deltas and the analytics counters that devices sent for round `round_`."""
        deltas, counters = [], []
        for intercept, idx, val, counted, intercept_curvature, curvature in self.db.execute(
                "SELECT intercept, idx, val, counters, intercept_curvature, curvature FROM updates"
                " WHERE site = ? AND round = ? ORDER BY id", [site, round_]).rows:
            deltas.append(Delta(intercept, np.frombuffer(idx, dtype=IDX), np.frombuffer(val, dtype=VAL),
                                intercept_curvature or 0.0, np.frombuffer(curvature or b"", dtype=VAL)))
            counters.append([Counter(*c) for c in orjson.loads(counted)] if counted else [])
        return deltas, counters

    def count_updates(self, site: str) -> int:
        return self.db.value("SELECT count(*) FROM updates WHERE site = ?", [site])

    def model(self, site: str, version: int) -> tuple[float, list[tuple[int, float]]]:
        """The intercept and the (bucket, weight) pairs of one global model version."""
        intercept, idx, val = self.model_arrays(site, version)
        return intercept, _pairs(idx, val)

    def model_arrays(self, site: str, version: int) -> tuple[float, np.ndarray, np.ndarray]:
        """The intercept, the buckets of the nonzero weights and those weights, of one version."""
        intercept, weights = self.db.execute(
            "SELECT intercept, weights FROM models WHERE site = ? AND version = ?", [site, version]).fetchone()
        return (intercept, *_unpack_weights(weights))

    def model_precisions(self, site: str, version: int) -> tuple[float | None, np.ndarray, np.ndarray]:
        """The intercept's precision (None if the version states none) and the buckets and values
        of the precisions the version states."""
        intercept, precisions = self.db.execute(
            "SELECT intercept_precision, precisions FROM models WHERE site = ? AND version = ?", [site, version]).fetchone()
        return (intercept, *_unpack_weights(precisions or b""))

    def publish_round(self, site: str, round_: dict, intercept: float, idx: np.ndarray, val: np.ndarray,
                      counters: dict[tuple[str, str, str], list[float]],
                      precisions: tuple[float, np.ndarray, np.ndarray] | None = None) -> None:
        """Record a closed round, its new model version (the buckets `idx` of its nonzero weights
        `val`, and the intercept's and buckets' `precisions` if it states them) and its analytics,
        all or nothing."""
        version = round_["version"]
        weights = np.asarray(idx, IDX).tobytes() + np.asarray(val, VAL).tobytes()
        stated = (None, None) if precisions is None else (
            precisions[0], np.asarray(precisions[1], IDX).tobytes() + np.asarray(precisions[2], VAL).tobytes())
        with self.db.transaction(self.round_lock(site)):
            self.db.execute("INSERT INTO models (site, version, intercept, weights, created_at, intercept_precision,"
                            " precisions) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [site, version, intercept, weights, round_["closed_at"], *stated])
            columns = ["site", *round_]
            self.db.execute(f"INSERT INTO rounds ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            [site, *round_.values()])
            self.db.executemany(
                "INSERT INTO round_counters (site, version, slot, variant, arm, impressions, clicks, conversions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(site, version, slot, variant, arm, impressions, clicks, conversions)
                 for (slot, variant, arm), (impressions, clicks, conversions) in counters.items()])

    def prune(self, site: str, before: int) -> None:
        """Drop the model versions older than `before` and the updates of the rounds that made
        them, and the tokens spent in those rounds (a token of a closed round is refused as expired
        anyway). The newest version, the `rounds` rows and the published counters stay: they are
        what the dashboard and the replay read. Called inside a round's transaction."""
        with self.db.transaction(self.round_lock(site)):
            for table, column in (("models", "version"), ("updates", "round"), ("spent_tokens", "round")):
                self.db.execute(f"DELETE FROM {table} WHERE site = ? AND {column} < ?", [site, before])

    def rounds(self, site: str) -> list[dict]:
        """Every closed round of `site`, oldest first: participation, noise and ε after it."""
        return self.db.rows("SELECT * FROM rounds WHERE site = ? ORDER BY version", [site])

    def round_counters(self, site: str, version: int) -> list[dict]:
        """The (noisy, if configured) impressions, clicks and conversions that round `version` published."""
        return self.db.rows("SELECT * FROM round_counters WHERE site = ? AND version = ?"
                            " ORDER BY slot, variant, arm", [site, version])

    def record_token_issue(self, site: str, visitor: str, round_: int, network: str, config: RoundConfig) -> None:
        """Count one token for `visitor` from `network` in `round_`, or raise TokenRefused: the
        round must be open, the visitor's latest consent must grant `improve`, and the visitor may
        have one token per round and `config.device_rounds_per_year` in any 365 days, the network
        `config.tokens_per_network` per round."""
        now = time.time()
        with self.db.transaction(self.round_lock(site)):
            open_round = self._open_round_number(site)
            if round_ != open_round:
                raise TokenRefused("round_closed", f"round {round_} is not open; the open round is {open_round}")
            latest = self.db.value("SELECT improve FROM consents WHERE site = ? AND visitor = ? ORDER BY id DESC LIMIT 1",
                                   [site, visitor])
            if not latest:
                raise TokenRefused("no_improve_consent", "the visitor's latest consent does not grant improve")
            issued = "SELECT count(*) FROM token_issues WHERE site = ? AND visitor = ? AND "
            if self.db.value(issued + "round = ?", [site, visitor, round_]):
                raise TokenRefused("token_already_issued", f"the visitor has had its token for round {round_}")
            if self.db.value(issued + "issued_at > ?", [site, visitor, now - YEAR]) >= config.device_rounds_per_year:
                raise TokenRefused("yearly_limit", f"the visitor has had {config.device_rounds_per_year} tokens "
                                   "in the last 365 days, as many as a device may take part in")
            tokens = self.db.value("SELECT tokens FROM network_issues WHERE site = ? AND round = ? AND network = ?",
                                   [site, round_, network])
            if tokens is not None and tokens >= config.tokens_per_network:
                raise TokenRefused("network_limit", f"{config.tokens_per_network} tokens went to this network "
                                   f"in round {round_}, as many as one network may have")
            self.db.execute("DELETE FROM network_issues WHERE site = ? AND round < ?", [site, round_])
            self.db.execute("INSERT INTO network_issues (site, round, network, tokens) VALUES (?, ?, ?, 1)"
                            " ON CONFLICT (site, round, network) DO UPDATE SET tokens = network_issues.tokens + 1",
                            [site, round_, network])
            self.db.execute("INSERT INTO token_issues (site, visitor, round, issued_at) VALUES (?, ?, ?, ?)",
                            [site, visitor, round_, now])

    def token_issues(self, site: str, visitor: str) -> list[dict]:
        """The rounds the visitor was issued a token for, and when, oldest first."""
        return self.db.rows("SELECT round, issued_at FROM token_issues WHERE site = ? AND visitor = ? ORDER BY round",
                            [site, visitor])



@functools.cache  # a round config is read several times a second: say what is wrong once
def _warn_once(message: str) -> None:
    logging.getLogger("sync_server").warning(message)


def _packed(values: Sequence[float] | np.ndarray, dtype: np.dtype) -> bytes:
    """`values` packed as `dtype` (IDX or VAL): a NumPy array (the compact form) converted, a
    list (JSON) through struct, which packs one twice as fast as making an array of it."""
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False).tobytes()
    return struct.pack(f"={len(values)}{dtype.char}", *values)


def _unpack_weights(weights: bytes | str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(weights, str):  # written before models were packed: JSON [bucket, weight] pairs
        pairs = orjson.loads(weights)
        return np.array([b for b, _ in pairs], IDX), np.array([w for _, w in pairs], VAL)
    n = len(weights) // (IDX.itemsize + VAL.itemsize)
    return np.frombuffer(weights, IDX, n), np.frombuffer(weights, VAL, n, offset=n * IDX.itemsize)


def _pairs(idx: np.ndarray, val: np.ndarray) -> list[tuple[int, float]]:
    return list(zip(idx.tolist(), val.tolist()))
