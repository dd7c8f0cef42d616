"""Everything the server keeps, in one SQLite file through sqlite-utils.

Only this module knows the tables, so another backend (PostgreSQL for several
nodes) can take its place behind the same methods.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import orjson
import sqlite_utils

from sync_server.aggregation import Delta
from sync_server.records import ClosedRound, Consent, Counter, RoundConfig, RoundState, Update
from sync_server.sites import DEFAULT_HASH_BITS

YEAR = 365 * 86_400.0
IDX, VAL = np.dtype("=i4"), np.dtype("=f8")  # machine byte order, as rows have always been packed


class UnknownSite(LookupError):
    """No site has that key."""


class AdminExists(ValueError):
    """An admin account with that name already exists."""


class NoSyncConsent(PermissionError):
    """The visitor's latest consent does not grant `sync`, so no profile may be stored."""


class TokenRefused(PermissionError):
    """No participation token for this visitor now: `code` says why, the message in words."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class TokenSpent(LookupError):
    """An update's participation token was spent already."""


class TokenExpired(LookupError):
    """An update's participation token belongs to a round that has closed."""


class Store:
    """Sites, their global model versions, and the updates devices sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_file: IO | None = None  # opened on the first write transaction
        self.rules_changes = 0  # editor rules set through this Store: caches of them check it
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)  # SQLite gives the -wal and -shm files the database file's mode
        # One connection, used from the event loop and the CLI; never two threads at once.
        self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
        self.db.enable_wal()
        # FULL: an acknowledged update is on disk even if the machine, not just the process, dies.
        self.db.execute("PRAGMA synchronous = FULL")
        self._create_tables()

    def _create_tables(self) -> None:
        self.db["sites"].create(
            {"site": str, "hash_bits": int, "created_at": float}, pk="site", if_not_exists=True
        )
        self.db["models"].create(
            {"site": str, "version": int, "intercept": float, "weights": bytes, "created_at": float},
            pk=("site", "version"), foreign_keys=[("site", "sites")], if_not_exists=True,
        )
        self._create_round_tables()
        self._create_token_tables()
        self._create_visitor_tables()
        self._create_admin_tables()
        self.db["retired_site_keys"].create({"key": str, "site": str, "retired_at": float}, pk="key",
                                            if_not_exists=True)

    def create_site(self, site: str, hash_bits: int = DEFAULT_HASH_BITS) -> None:
        """Add a site with an empty global model (version 0); an existing site is kept. A key
        retired by `rotate_site_key` stays retired: ValueError."""
        retired = self.retired_site_key(site)
        if retired is not None:
            raise ValueError(f"the key {site!r} was retired when its site became {retired['site']!r}")
        with self.db.conn:
            self.db["sites"].insert(
                {"site": site, "hash_bits": hash_bits, "created_at": time.time()}, ignore=True
            )
            self.db["models"].insert(
                {"site": site, "version": 0, "intercept": 0.0, "weights": b"", "created_at": time.time()},
                ignore=True,
            )

    def rotate_site_key(self, site: str, new_key: str, admin: str) -> None:
        """Give `site` the key `new_key` (checked by the caller): everything kept under the old
        key moves to the new one in one transaction, and the old key is retired for good.

        Updates another process stores for the old key after this are refused (see
        `add_updates`), never kept under a key nobody asks for.
        """
        with self.writing():
            self.site(site)
            if self.db["sites"].count_where("site = ?", [new_key]) or self.retired_site_key(new_key):
                raise ValueError(f"the key {new_key!r} is taken or was retired")
            for table in self.db.tables:  # every table that keeps something by site, retired keys too
                if "site" in table.columns_dict:
                    self.db.execute(f"UPDATE [{table.name}] SET site = ? WHERE site = ?", [new_key, site])
            self.db["retired_site_keys"].insert({"key": site, "site": new_key, "retired_at": time.time()})
            self._audit(new_key, admin, "key rotated", {"retired": site, "key": new_key})

    def retired_site_key(self, key: str) -> dict | None:
        """When `key` was retired, and the key its site has now; None if it never was."""
        return next(self.db["retired_site_keys"].rows_where("key = ?", [key]), None)

    def site(self, site: str) -> dict:
        try:
            return self.db["sites"].get(site)
        except sqlite_utils.db.NotFoundError:
            raise UnknownSite(site) from None

    def sites(self) -> list[dict]:
        return list(self.db["sites"].rows_where(order_by="site"))

    def latest_model(self, site: str) -> dict:
        """The newest global model of `site`, as devices receive it."""
        self.site(site)
        row = next(self.db["models"].rows_where("site = ?", [site], order_by="version desc", limit=1))
        return {"site": site, "version": row["version"], "intercept": row["intercept"],
                "weights": _pairs(*_unpack_weights(row["weights"]))}

    # Federated rounds: device updates, per-site round configs, closed rounds and their analytics.
    # A delta's buckets and values are stored as packed int32 and float64 arrays (machine byte
    # order): a 300-weight update fits one 4 KiB page, where JSON text would spill over. A global
    # model's weights are packed the same way, buckets then weights in one blob: once noise has
    # touched every bucket a model has 2^hash_bits of them, and a round reads and writes it whole.


    def _create_round_tables(self) -> None:
        self.db["updates"].create(
            {"id": int, "site": str, "round": int, "base_version": int, "samples": int, "intercept": float,
             "idx": bytes, "val": bytes, "counters": str, "update_id": str, "received_at": float},
            pk="id", foreign_keys=[("site", "sites")], if_not_exists=True,
        )
        self.db["updates"].create_index(["site", "round"], if_not_exists=True)
        # A replayed update_id is refused; updates without one (NULL) never collide.
        self.db["updates"].create_index(["site", "update_id"], unique=True, if_not_exists=True)
        self._create_round_sizes()
        self.db["round_configs"].create({"site": str, "config": str}, pk="site", if_not_exists=True)
        self.db["rounds"].create(
            {"site": str, "version": int, "closed_at": float, "reason": str, "devices": int,
             "noise_multiplier": float, "clip_norm": float, "learning_rate": float, "aggregator": str,
             "epsilon": float, "delta": float},
            pk=("site", "version"), foreign_keys=[("site", "sites")], if_not_exists=True,
        )
        self.db["round_counters"].create(
            {"site": str, "version": int, "slot": str, "variant": str, "arm": str,
             "impressions": float, "clicks": float},
            pk=("site", "version", "slot", "variant", "arm"), if_not_exists=True,
        )

    def _create_round_sizes(self) -> None:
        # How many updates each round holds and when the first came, kept up by every insert:
        # writers look at the open round several times a second, and counting its rows would
        # take longer the more it holds. A database made before this table gets it counted once.
        if "round_sizes" in self.db.table_names():
            return
        with self.writing():
            if "round_sizes" not in self.db.table_names():  # another process may have been first
                self.db["round_sizes"].create({"site": str, "round": int, "updates": int, "opened_at": float},
                                              pk=("site", "round"))
                self.db.execute("INSERT INTO round_sizes SELECT site, round, count(*), min(received_at) "
                                "FROM updates GROUP BY site, round")

    def round_config(self, site: str) -> RoundConfig:
        """How `site` runs its rounds (the defaults until someone configures it)."""
        self.site(site)
        rows = list(self.db["round_configs"].rows_where("site = ?", [site]))
        if not rows:
            return RoundConfig()
        config, problems = RoundConfig.load(json.loads(rows[0]["config"]))
        for problem in problems:
            _warn_once(f"site {site!r}: the stored round config was bad ({problem}); using {config}")
        return config

    def set_round_config(self, site: str, config: RoundConfig) -> None:
        self.site(site)
        with self.db.conn:
            self.db["round_configs"].upsert({"site": site, "config": json.dumps(dataclasses.asdict(config))},
                                            pk="site")

    def round_state(self, site: str) -> RoundState:
        """Where `site`'s rounds stand, read from the tables: the truth every server process shares."""
        buckets = 1 << self.site(site)["hash_bits"]
        closed = [ClosedRound(*r) for r in self.db.execute(
            "SELECT closed_at, noise_multiplier, clip_norm, learning_rate, devices FROM rounds WHERE site = ?"
            " ORDER BY version", [site])]
        round_, pending, opened_at = self.open_round(site)
        return RoundState(site, buckets, round_ - 1, self.round_config(site), closed, pending, opened_at)

    def open_round(self, site: str) -> tuple[int, int, float | None]:
        """The open round of `site`: its number, its updates so far, and when the first came."""
        round_ = self._open_round_number(site)
        size = self.db.execute("SELECT updates, opened_at FROM round_sizes WHERE site = ? AND round = ?",
                               [site, round_]).fetchone()
        return (round_, *size) if size else (round_, 0, None)

    def _open_round_number(self, site: str) -> int:
        return self.db.execute("SELECT max(version) + 1 FROM models WHERE site = ?", [site]).fetchone()[0]

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A transaction that takes SQLite's write lock at once (BEGIN IMMEDIATE): what it reads
        stays true until it commits, however many server processes share the file."""
        with self._write_lock():
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.rollback()
                raise
            self.db.conn.execute("COMMIT")

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        # Writers in other processes wait here, woken the moment the lock is free, rather than
        # in SQLite's busy handler, which sleeps (up to 100 ms at a time) and tries again.
        if self._lock_file is None:
            lock_path = self.path.with_name(self.path.name + ".lock")
            _create_private(lock_path)
            self._lock_file = lock_path.open("a")  # held for the store's life, as the lock is
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def add_updates(self, updates: list[tuple[str, Update]]) -> list[int | None | LookupError]:
        """Store (site, update) pairs in the open rounds, in one transaction, spending their
        tokens in it too; the id of each, None for a replay (an update_id the site already has),
        TokenSpent or TokenExpired for a token spent already or of a closed round, or UnknownSite
        for a site that is gone (its key was rotated since the update was checked).

        A handful of statements for the whole batch, whatever its size: every call into
        SQLite lets go of the GIL, and getting it back from a busy event loop is slow.
        """
        ids: list[int | None] = []
        rows, now = [], time.time()
        with self.writing():
            rounds = {site: self._open_round_number(site) for site in {site for site, _ in updates}}
            seen = self._known_update_ids(updates)
            spent = self._spent_tokens(updates)
            spending: list[tuple[str, int, str]] = []
            next_id = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM updates").fetchone()[0]
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
                counters = orjson.dumps([tuple(c) for c in u.counters]).decode() if u.counters else None
                rows.append((next_id, site, rounds[site], u.base_version, u.samples, u.intercept,
                             np.asarray(u.idx, IDX).tobytes(), np.asarray(u.val, VAL).tobytes(), counters,
                             u.update_id, now))
                ids.append(next_id)
                next_id += 1
            self.db.conn.executemany(
                "INSERT INTO updates (id, site, round, base_version, samples, intercept, idx, val, counters,"
                " update_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.conn.executemany("INSERT INTO spent_tokens (site, round, nonce) VALUES (?, ?, ?)", spending)
            sizes = collections.Counter(row[1] for row in rows)  # updates stored, by site
            self.db.conn.executemany(
                "INSERT INTO round_sizes (site, round, updates, opened_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (site, round) DO UPDATE SET updates = updates + excluded.updates",
                [(site, rounds[site], count, now) for site, count in sizes.items()])
        return ids

    def _known_update_ids(self, updates: list[tuple[str, Update]]) -> set[tuple[str, str]]:
        wanted: dict[str, list[str]] = {}
        for site, u in updates:
            if u.update_id is not None:
                wanted.setdefault(site, []).append(u.update_id)
        known = set()
        for site, update_ids in wanted.items():  # one statement, whatever the number of ids
            known.update(self.db.execute(
                "SELECT site, update_id FROM updates WHERE site = ? AND update_id IN (SELECT value FROM json_each(?))",
                [site, orjson.dumps(update_ids).decode()]).fetchall())
        return known

    def _spent_tokens(self, updates: list[tuple[str, Update]]) -> set[tuple[str, str]]:
        wanted: dict[str, list[str]] = {}
        for site, u in updates:
            if u.token is not None:
                wanted.setdefault(site, []).append(u.token.nonce.hex())
        spent = set()
        for site, nonces in wanted.items():
            spent.update(self.db.execute(
                "SELECT site, nonce FROM spent_tokens WHERE site = ? AND nonce IN (SELECT value FROM json_each(?))",
                [site, orjson.dumps(nonces).decode()]).fetchall())
        return spent

    def round_updates(self, site: str, round_: int) -> tuple[list[Delta], list[list[Counter]]]:
        """The deltas and the analytics counters that devices sent for round `round_`."""
        deltas, counters = [], []
        for intercept, idx, val, counted in self.db.execute(
                "SELECT intercept, idx, val, counters FROM updates WHERE site = ? AND round = ?", [site, round_]):
            deltas.append(Delta(intercept, np.frombuffer(idx, dtype=IDX), np.frombuffer(val, dtype=VAL)))
            counters.append([Counter(*c) for c in orjson.loads(counted)] if counted else [])
        return deltas, counters

    def count_updates(self, site: str) -> int:
        return self.db["updates"].count_where("site = ?", [site])

    def model(self, site: str, version: int) -> tuple[float, list[tuple[int, float]]]:
        """The intercept and the (bucket, weight) pairs of one global model version."""
        intercept, idx, val = self.model_arrays(site, version)
        return intercept, _pairs(idx, val)

    def model_arrays(self, site: str, version: int) -> tuple[float, np.ndarray, np.ndarray]:
        """The intercept, the buckets of the nonzero weights and those weights, of one version."""
        intercept, weights = self.db.execute(
            "SELECT intercept, weights FROM models WHERE site = ? AND version = ?", [site, version]).fetchone()
        return (intercept, *_unpack_weights(weights))

    def publish_round(self, site: str, round_: dict, intercept: float, idx: np.ndarray, val: np.ndarray,
                      counters: dict[tuple[str, str, str], list[float]]) -> None:
        """Record a closed round, its new model version (the buckets `idx` of its nonzero weights
        `val`) and its analytics, all or nothing."""
        version = round_["version"]
        weights = np.asarray(idx, IDX).tobytes() + np.asarray(val, VAL).tobytes()
        with self.db.atomic():
            self.db["models"].insert({"site": site, "version": version, "intercept": intercept,
                                      "weights": weights, "created_at": round_["closed_at"]})
            self.db["rounds"].insert({"site": site, **round_})
            self.db["round_counters"].insert_all(
                {"site": site, "version": version, "slot": slot, "variant": variant, "arm": arm,
                 "impressions": impressions, "clicks": clicks}
                for (slot, variant, arm), (impressions, clicks) in counters.items())

    def prune(self, site: str, before: int) -> None:
        """Drop the model versions older than `before` and the updates of the rounds that made
        them, and the tokens spent in those rounds (a token of a closed round is refused as expired
        anyway). The newest version, the `rounds` rows and the published counters stay: they are
        what the dashboard and the replay read. Called inside a round's transaction."""
        self.db.execute("DELETE FROM models WHERE site = ? AND version < ?", [site, before])
        self.db.execute("DELETE FROM updates WHERE site = ? AND round < ?", [site, before])
        self.db.execute("DELETE FROM spent_tokens WHERE site = ? AND round < ?", [site, before])

    def rounds(self, site: str) -> list[dict]:
        """Every closed round of `site`, oldest first: participation, noise and ε after it."""
        return list(self.db["rounds"].rows_where("site = ?", [site], order_by="version"))

    def round_counters(self, site: str, version: int) -> list[dict]:
        """The (noisy, if configured) impressions and clicks that round `version` published."""
        return list(self.db["round_counters"].rows_where("site = ? AND version = ?", [site, version],
                                                         order_by="slot, variant, arm"))

    # Participation tokens (tokens.py): who was issued one in which round, how many went to each
    # client network in the open round, and the tokens spent. Issuance names the visitor and
    # spending does not, and no column is shared but the round: the server cannot tell which
    # issued token an update spent.

    def _create_token_tables(self) -> None:
        self.db["token_issues"].create(
            {"site": str, "visitor": str, "round": int, "issued_at": float},
            pk=("site", "visitor", "round"), if_not_exists=True,
        )
        self.db["network_issues"].create(  # the open round's only: older rows are pruned
            {"site": str, "round": int, "network": str, "tokens": int},
            pk=("site", "round", "network"), if_not_exists=True,
        )
        self.db["spent_tokens"].create({"site": str, "round": int, "nonce": str}, pk=("site", "nonce"),
                                       if_not_exists=True)

    def record_token_issue(self, site: str, visitor: str, round_: int, network: str, config: RoundConfig) -> None:
        """Count one token for `visitor` from `network` in `round_`, or raise TokenRefused: the
        round must be open, the visitor's latest consent must grant `improve`, and the visitor may
        have one token per round and `config.device_rounds_per_year` in any 365 days, the network
        `config.tokens_per_network` per round."""
        now = time.time()
        with self.writing():
            open_round = self._open_round_number(site)
            if round_ != open_round:
                raise TokenRefused("round_closed", f"round {round_} is not open; the open round is {open_round}")
            latest = self.db.execute(
                "SELECT improve FROM consents WHERE site = ? AND visitor = ? ORDER BY id DESC LIMIT 1", [site, visitor]
            ).fetchone()
            if latest is None or not latest[0]:
                raise TokenRefused("no_improve_consent", "the visitor's latest consent does not grant improve")
            if self.db["token_issues"].count_where("site = ? AND visitor = ? AND round = ?", [site, visitor, round_]):
                raise TokenRefused("token_already_issued", f"the visitor has had its token for round {round_}")
            if self.db["token_issues"].count_where("site = ? AND visitor = ? AND issued_at > ?",
                                                   [site, visitor, now - YEAR]) >= config.device_rounds_per_year:
                raise TokenRefused("yearly_limit", f"the visitor has had {config.device_rounds_per_year} tokens "
                                   "in the last 365 days, as many as a device may take part in")
            row = self.db.execute("SELECT tokens FROM network_issues WHERE site = ? AND round = ? AND network = ?",
                                  [site, round_, network]).fetchone()
            if row and row[0] >= config.tokens_per_network:
                raise TokenRefused("network_limit", f"{config.tokens_per_network} tokens went to this network "
                                   f"in round {round_}, as many as one network may have")
            self.db.execute("DELETE FROM network_issues WHERE site = ? AND round < ?", [site, round_])
            self.db.execute("INSERT INTO network_issues (site, round, network, tokens) VALUES (?, ?, ?, 1)"
                            " ON CONFLICT (site, round, network) DO UPDATE SET tokens = tokens + 1",
                            [site, round_, network])
            self.db["token_issues"].insert({"site": site, "visitor": visitor, "round": round_, "issued_at": now})

    def token_issues(self, site: str, visitor: str) -> list[dict]:
        """The rounds the visitor was issued a token for, and when, oldest first."""
        return list(self.db["token_issues"].rows_where("site = ? AND visitor = ?", [site, visitor],
                                                       select="round, issued_at", order_by="round"))

    # Visitors and sites' origins: consent history, profiles (only while `sync` is granted), erasure.

    def _create_visitor_tables(self) -> None:
        self.db["site_origins"].create(
            {"site": str, "origin": str}, pk=("site", "origin"), foreign_keys=[("site", "sites")],
            if_not_exists=True,
        )
        self.db["visitors"].create(
            {"site": str, "visitor": str, "secret_hash": str, "registered_at": float},
            pk=("site", "visitor"), foreign_keys=[("site", "sites")], if_not_exists=True,
        )
        self.db["consents"].create(
            {"id": int, "site": str, "visitor": str, "policy_version": str, "personalize": bool,
             "improve": bool, "sync": bool, "recorded_at": float},
            pk="id", if_not_exists=True,
        )
        self.db["consents"].create_index(["site", "visitor"], if_not_exists=True)
        self.db["profiles"].create(
            {"site": str, "visitor": str, "document": str, "updated_at": float},
            pk=("site", "visitor"), if_not_exists=True,
        )
        # The audit of erasures holds no personal data: no visitor id, nothing derived from one.
        self.db["erasures"].create(
            {"id": int, "site": str, "reason": str, "profile": bool, "consents": int, "erased_at": float},
            pk="id", if_not_exists=True,
        )

    def site_origins(self, site: str) -> list[str]:
        """The origins whose pages may call `site`'s API (besides the server's own)."""
        self.site(site)
        return [row["origin"] for row in self.db["site_origins"].rows_where("site = ?", [site], order_by="origin")]

    def set_site_origins(self, site: str, origins: Iterable[str]) -> None:
        """Replace `site`'s allowed origins."""
        self.site(site)
        with self.db.conn:
            self.db["site_origins"].delete_where("site = ?", [site])
            self.db["site_origins"].insert_all(({"site": site, "origin": origin} for origin in origins), ignore=True)

    def visitor(self, site: str, visitor: str) -> dict | None:
        """The visitor's registration (their secret's hash), or None if the server holds nothing."""
        rows = self.db["visitors"].rows_where("site = ? AND visitor = ?", [site, visitor])
        return next(rows, None)

    def record_consent(self, site: str, secret_hash: str, consent: Consent) -> tuple[dict, bool]:
        """Append `consent` to the visitor's history, registering them on their first one.

        Consent without `sync` erases the visitor's profile in the same transaction.
        Returns the stored record and whether a profile was erased.
        """
        row = {"site": site, **dataclasses.asdict(consent), "recorded_at": time.time()}
        with self.db.conn:
            self.db["visitors"].insert(
                {"site": site, "visitor": consent.visitor, "secret_hash": secret_hash,
                 "registered_at": row["recorded_at"]},
                ignore=True,
            )
            self.db["consents"].insert(row)
            profile_erased = not consent.sync and self._delete_visitor_rows("profiles", site, consent.visitor) > 0
            if profile_erased:
                self._audit_erasure(site, "sync_revoked", profile=True, consents=0)
        return row, profile_erased

    def consents(self, site: str, visitor: str) -> list[dict]:
        """The visitor's consent history, oldest first; the last one is in force."""
        return list(self.db["consents"].rows_where("site = ? AND visitor = ?", [site, visitor], order_by="id"))

    def profile(self, site: str, visitor: str) -> dict | None:
        """The visitor's stored profile (`document`, JSON text, and `updated_at`), if any."""
        return next(self.db["profiles"].rows_where("site = ? AND visitor = ?", [site, visitor]), None)

    def save_profile(self, site: str, visitor: str, document: str) -> float:
        """Store the visitor's profile and return when; NoSyncConsent unless their consent grants `sync`."""
        updated_at = time.time()
        with self.db.conn:
            latest = self.db.execute(
                "SELECT sync FROM consents WHERE site = ? AND visitor = ? ORDER BY id DESC LIMIT 1", [site, visitor]
            ).fetchone()
            if latest is None or not latest[0]:
                raise NoSyncConsent(visitor)
            self.db["profiles"].upsert(
                {"site": site, "visitor": visitor, "document": document, "updated_at": updated_at},
                pk=("site", "visitor"),
            )
        return updated_at

    def erase_visitor(self, site: str, visitor: str) -> dict:
        """Forget the visitor (profile, consent history, secret) and audit it without personal data."""
        with self.db.conn:
            profile = self._delete_visitor_rows("profiles", site, visitor) > 0
            consents = self._delete_visitor_rows("consents", site, visitor)
            self._delete_visitor_rows("visitors", site, visitor)
            self._delete_visitor_rows("token_issues", site, visitor)
            self._audit_erasure(site, "visitor_request", profile=profile, consents=consents)
        return {"profile": profile, "consents": consents}

    def erasures(self, site: str) -> list[dict]:
        """The audit of erasures on `site`, oldest first."""
        return list(self.db["erasures"].rows_where("site = ?", [site], order_by="id"))

    def _delete_visitor_rows(self, table: str, site: str, visitor: str) -> int:
        return self.db.execute(f"DELETE FROM [{table}] WHERE site = ? AND visitor = ?", [site, visitor]).rowcount

    def _audit_erasure(self, site: str, reason: str, profile: bool, consents: int) -> None:
        self.db["erasures"].insert(
            {"site": site, "reason": reason, "profile": profile, "consents": consents, "erased_at": time.time()}
        )

    # Admins: their accounts and sign-in sessions, the editor rules they set, and the audit log
    # of every change they make. Sessions are kept by the SHA-256 of their token, so a leaked
    # database holds no usable session.

    def _create_admin_tables(self) -> None:
        self.db["admins"].create({"name": str, "password_hash": str, "created_at": float}, pk="name",
                                 if_not_exists=True)
        self.db["admin_sessions"].create(
            {"token_hash": str, "admin": str, "csrf_token": str, "expires_at": float},
            pk="token_hash", foreign_keys=[("admin", "admins")], if_not_exists=True,
        )
        self.db["editor_rules"].create(
            {"site": str, "version": int, "document": str, "admin": str, "created_at": float},
            pk=("site", "version"), foreign_keys=[("site", "sites")], if_not_exists=True,
        )
        self.db["admin_audit"].create(
            {"id": int, "site": str, "admin": str, "action": str, "detail": str, "at": float},
            pk="id", if_not_exists=True,
        )
        self.db["admin_audit"].create_index(["site"], if_not_exists=True)
        self.db["logged_samples"].create(  # one per site, for offline replay (replay.py)
            {"site": str, "rows": str, "impressions": int, "admin": str, "uploaded_at": float},
            pk="site", foreign_keys=[("site", "sites")], if_not_exists=True,
        )

    def create_admin(self, name: str, password_hash: str) -> None:
        """Add an admin account; AdminExists if the name is taken."""
        try:
            with self.db.conn:
                self.db["admins"].insert({"name": name, "password_hash": password_hash, "created_at": time.time()})
        except sqlite3.IntegrityError:
            raise AdminExists(name) from None

    def admin(self, name: str) -> dict | None:
        return next(self.db["admins"].rows_where("name = ?", [name]), None)

    def count_admins(self) -> int:
        return self.db["admins"].count

    def create_admin_session(self, token_hash: str, admin: str, csrf_token: str, expires_at: float) -> None:
        with self.db.conn:
            self.db["admin_sessions"].delete_where("expires_at < ?", [time.time()])
            self.db["admin_sessions"].insert(
                {"token_hash": token_hash, "admin": admin, "csrf_token": csrf_token, "expires_at": expires_at})

    def admin_session(self, token_hash: str) -> dict | None:
        """The unexpired session with that token hash, or None."""
        rows = self.db["admin_sessions"].rows_where("token_hash = ? AND expires_at >= ?", [token_hash, time.time()])
        return next(rows, None)

    def delete_admin_session(self, token_hash: str) -> None:
        with self.db.conn:
            self.db["admin_sessions"].delete_where("token_hash = ?", [token_hash])

    def editor_rules(self, site: str) -> tuple[int, dict]:
        """The newest version of `site`'s editor rules and its document (version 0: no rules)."""
        self.site(site)
        rows = self.db["editor_rules"].rows_where("site = ?", [site], order_by="version desc", limit=1)
        row = next(rows, None)
        return (row["version"], orjson.loads(row["document"])) if row else (0, {})

    def set_editor_rules(self, site: str, document: dict, admin: str, change: str = "rules") -> int:
        """Store a new version of `site`'s rules (checked by the caller) and audit it as `change`;
        its version."""
        with self.db.atomic():
            version = self.editor_rules(site)[0] + 1
            self.db["editor_rules"].insert({"site": site, "version": version, "document": orjson.dumps(document).decode(),
                                            "admin": admin, "created_at": time.time()})
            self._audit(site, admin, f"{change} (rules v{version})", document)
        self.rules_changes += 1
        return version

    def set_logged_sample(self, site: str, rows: list[dict], admin: str) -> None:
        """Replace `site`'s logged sample (checked by the caller) and audit it."""
        self.site(site)
        with self.db.conn:
            self.db["logged_samples"].upsert({"site": site, "rows": orjson.dumps(rows).decode(), "impressions": len(rows),
                                              "admin": admin, "uploaded_at": time.time()}, pk="site")
            self._audit(site, admin, "logged sample", {"impressions": len(rows)})

    def logged_sample(self, site: str) -> tuple[float, list[dict]] | None:
        """When `site`'s logged sample was uploaded, and its rows; None if it has none."""
        row = next(self.db["logged_samples"].rows_where("site = ?", [site]), None)
        return (row["uploaded_at"], orjson.loads(row["rows"])) if row else None

    def audit(self, site: str, admin: str, action: str, detail: dict) -> None:
        """Record that `admin` did `action` on `site`; `detail` says what it was set to."""
        with self.db.conn:
            self._audit(site, admin, action, detail)

    def audit_log(self, site: str, limit: int = 50) -> list[dict]:
        """The latest changes to `site`, newest first, each with its detail decoded."""
        rows = self.db["admin_audit"].rows_where("site = ?", [site], order_by="id desc", limit=limit)
        return [{**row, "detail": orjson.loads(row["detail"])} for row in rows]

    def _audit(self, site: str, admin: str, action: str, detail: dict) -> None:
        self.db["admin_audit"].insert({"site": site, "admin": admin, "action": action,
                                       "detail": orjson.dumps(detail).decode(), "at": time.time()})


def _create_private(path: Path) -> None:
    """Make `path` readable and writable by its owner only, if it does not exist yet: it holds
    visitors' consents and secrets' hashes, and admins' password hashes."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@functools.cache  # a round config is read several times a second: say what is wrong once
def _warn_once(message: str) -> None:
    logging.getLogger("sync_server").warning(message)


def _unpack_weights(weights: bytes | str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(weights, str):  # written before models were packed: JSON [bucket, weight] pairs
        pairs = orjson.loads(weights)
        return np.array([b for b, _ in pairs], IDX), np.array([w for _, w in pairs], VAL)
    n = len(weights) // (IDX.itemsize + VAL.itemsize)
    return np.frombuffer(weights, IDX, n), np.frombuffer(weights, VAL, n, offset=n * IDX.itemsize)


def _pairs(idx: np.ndarray, val: np.ndarray) -> list[tuple[int, float]]:
    return list(zip(idx.tolist(), val.tolist()))
