"""The writer: stores device updates in group commits and closes rounds.

Handlers hand their checked update to `Ingest.submit` and wait. One thread takes every
update waiting in the queue, inserts them all in one transaction, and answers all of
them once COMMIT returned: each 202 stands for an update on disk, yet a commit (and its
fsync) is paid once per batch rather than once per update.

The database is the truth about rounds, so several server processes can share one file
(and one port, with SO_REUSEPORT): each writer stores its updates in the round open at
commit time, checks whether that round is due, and closes it under SQLite's write lock,
where exactly one of them succeeds. The round states kept here for the handlers are a
cache, refreshed every `tick_seconds`: a round that several processes fill together may
close up to a tick after it is due.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
import threading
import time

import numpy as np

from sync_server import metrics
from sync_server.errors import ApiError
from sync_server.records import RoundConfig, RoundState, Update
from sync_server.rounds import close_round
from sync_server.storage import Store, TokenExpired, TokenSpent, UnknownSite

log = logging.getLogger(__name__)
STOP = object()


class Ingest:
    """Round states for the handlers, and the writer thread behind them."""

    def __init__(self, store: Store, max_batch: int = 1024, tick_seconds: float = 0.5) -> None:
        self.store = store  # the event loop's connection
        self.max_batch, self.tick_seconds = max_batch, tick_seconds
        self.sites: dict[str, RoundState] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def site(self, site: str) -> RoundState:
        """The round state of `site` as last read (UnknownSite if there is no such site)."""
        if site not in self.sites:
            self.refresh(site)
        return self.sites[site]

    def refresh(self, site: str) -> RoundState:
        """Read the round state of `site` again, e.g. when a device knows a newer version."""
        self.sites[site] = self.store.round_state(site)
        return self.sites[site]

    def forget(self, site: str) -> None:
        """Drop the cached state of a site whose key was rotated (other processes drop theirs
        on their next tick)."""
        self.sites.pop(site, None)

    def configure(self, site: str, config: RoundConfig) -> None:
        """Store a site's new round config; it applies from the next update on."""
        self.store.set_round_config(site, config)
        self.refresh(site)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the updates already queued, then stop the writer."""
        self._queue.put(STOP)
        self._thread.join()

    async def submit(self, site: str, update: Update) -> int:
        """Store `update` in the open round of `site`; its id once it is committed."""
        future = self._loop.create_future()
        self._queue.put((site, update, future))
        return await future

    def _run(self) -> None:
        store = self.store.reopen()  # the writer's own connection
        rng = np.random.default_rng()
        next_tick = time.monotonic()
        while True:
            batch = self._next_batch()
            stopping = bool(batch) and batch[-1] is STOP
            if stopping:
                batch.pop()
            if batch:
                self._write(store, batch)
                for site in {site for site, _, _ in batch}:
                    self._close_if_due(store, site, rng)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_seconds
                for site in list(self.sites):
                    self._refresh_and_close(store, site, rng)
            if stopping:
                return

    def _refresh_and_close(self, store: Store, site: str, rng: np.random.Generator) -> None:
        """Read what other processes did to `site` (rounds, config), and close its round if due."""
        try:
            self.sites[site] = store.round_state(site)
        except UnknownSite:  # its key was rotated: devices asking for it hear so from now on
            self.forget(site)
            return
        except Exception:  # the cached state serves until the next tick; the writer must go on
            log.exception("could not read the round state of site %r", site)
            return
        metrics.EPSILON.labels(site).set(self.sites[site].epsilon)  # also what other processes spent
        self._close_if_due(store, site, rng)

    def _next_batch(self) -> list:
        """Whatever is queued (up to max_batch), after waiting up to a tick for the first."""
        try:
            batch = [self._queue.get(timeout=self.tick_seconds)]
        except queue.Empty:
            return []
        while batch[-1] is not STOP and len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, store: Store, batch: list[tuple[str, Update, asyncio.Future]]) -> None:
        try:
            ids = store.add_updates([(site, update) for site, update, _ in batch])
        except Exception as error:
            log.exception("could not store %d updates", len(batch))
            failure = ApiError(503, "storage_unavailable", f"the update could not be stored: {error}")
            self._loop.call_soon_threadsafe(_answer, [(future, failure) for _, _, future in batch])
            return
        answers, accepted, now = [], collections.Counter(), time.time()
        for (site, update, future), update_id in zip(batch, ids):
            if isinstance(update_id, UnknownSite):
                update_id = ApiError(404, "unknown_site", f"no site with key {site!r}")
            elif update_id is None:
                update_id = ApiError(409, "replayed_update", f"update_id {update.update_id!r} was already received")
            elif isinstance(update_id, TokenSpent):
                update_id = ApiError(409, "token_spent", "this participation token was spent already")
            elif isinstance(update_id, TokenExpired):
                update_id = ApiError(409, "token_expired", f"round {update.token.round} closed before the update "
                                     "was stored; fetch the new model and ask for a token for the next round")
            else:  # counted here until the next refresh reads the count from the database
                state = self.sites[site]
                state.pending += 1
                state.opened_at = state.opened_at or now
                accepted[site] += 1
            answers.append((future, update_id))
        self._loop.call_soon_threadsafe(_answer, answers)
        for site, count in accepted.items():
            metrics.UPDATES_ACCEPTED.labels(site).inc(count)

    def _close_if_due(self, store: Store, site: str, rng: np.random.Generator) -> None:
        # This process's count says when to look; close_round checks the database's count.
        state = self.sites[site]
        reason = state.due(time.time())
        if not state.accepting or reason is None:
            return
        started = time.perf_counter()
        try:
            closed = close_round(store, site, rng)
        except Exception:  # the round stays open and is tried again; updates keep flowing
            log.exception("could not close the open round of site %r", site)
            return
        if closed is not None:
            self.sites[site] = closed
            metrics.ROUNDS_CLOSED.labels(site, reason).inc()
            metrics.ROUND_CLOSE_SECONDS.labels(site).observe(time.perf_counter() - started)
            if state.opened_at is not None:
                metrics.ROUND_OPEN_SECONDS.labels(site).observe(time.time() - state.opened_at)
            metrics.EPSILON.labels(site).set(closed.epsilon)


def _answer(answers: list[tuple[asyncio.Future, int | Exception]]) -> None:
    for future, answer in answers:
        if future.cancelled():  # the device hung up; its update is stored all the same
            continue
        if isinstance(answer, Exception):
            future.set_exception(answer)
        else:
            future.set_result(answer)
