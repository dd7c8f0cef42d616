"""Visitors: registration (their secret's hash), consent history, profiles (only while `sync`
is granted) and erasure, audited without personal data.

Consent and profile writes of one visitor take the lock `visitor:SITE:VISITOR`: a profile
saved on one replica while another records the visitor's withdrawal is never kept.
"""

from __future__ import annotations

import dataclasses
import time

from sync_server.records import Consent
from sync_server.storage.database import Database
from sync_server.storage.errors import NoSyncConsent


class VisitorStore:
    db: Database

    def visitor(self, site: str, visitor: str) -> dict | None:
        """The visitor's registration (their secret's hash), or None if the server holds nothing."""
        return self.db.row("SELECT * FROM visitors WHERE site = ? AND visitor = ?", [site, visitor])

    def record_consent(self, site: str, secret_hash: str, consent: Consent) -> tuple[dict, bool]:
        """Append `consent` to the visitor's history, registering them on their first one.

        Consent without `sync` erases the visitor's profile in the same transaction.
        Returns the stored record and whether a profile was erased.
        """
        row = {"site": site, **dataclasses.asdict(consent), "recorded_at": time.time()}
        with self.db.transaction(_lock(site, consent.visitor)):
            self.db.execute("INSERT INTO visitors (site, visitor, secret_hash, registered_at) VALUES (?, ?, ?, ?)"
                            " ON CONFLICT DO NOTHING", [site, consent.visitor, secret_hash, row["recorded_at"]])
            self.db.execute("INSERT INTO consents (site, visitor, policy_version, personalize, improve, sync, recorded_at)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [site, consent.visitor, consent.policy_version, int(consent.personalize),
                             int(consent.improve), int(consent.sync), row["recorded_at"]])
            profile_erased = not consent.sync and self._delete_visitor_rows("profiles", site, consent.visitor) > 0
            if profile_erased:
                self._audit_erasure(site, "sync_revoked", profile=True, consents=0)
        return row, profile_erased

    def consent_counts(self, site: str) -> dict[str, int]:
        """How many visitors have a consent on record, and how many of them grant `improve` and `sync` now."""
        row = self.db.row(
            "SELECT count(*) AS visitors, coalesce(sum(improve), 0) AS improve, coalesce(sum(sync), 0) AS sync"
            " FROM consents AS c WHERE site = ?"
            " AND id = (SELECT max(id) FROM consents WHERE site = c.site AND visitor = c.visitor)", [site])
        return {key: int(row[key]) for key in ("visitors", "improve", "sync")}

    def grants_sync(self, site: str, visitor: str) -> bool:
        """Whether the visitor's latest consent grants `sync`."""
        return bool(self.db.value("SELECT sync FROM consents WHERE site = ? AND visitor = ? ORDER BY id DESC LIMIT 1",
                                  [site, visitor]))

    def consents(self, site: str, visitor: str) -> list[dict]:
        """The visitor's consent history, oldest first; the last one is in force."""
        return self.db.rows("SELECT * FROM consents WHERE site = ? AND visitor = ? ORDER BY id", [site, visitor])

    def profile(self, site: str, visitor: str) -> dict | None:
        """The visitor's stored profile (`document`, JSON text, and `updated_at`), if any."""
        return self.db.row("SELECT * FROM profiles WHERE site = ? AND visitor = ?", [site, visitor])

    def save_profile(self, site: str, visitor: str, document: str) -> float:
        """Store the visitor's profile and return when; NoSyncConsent unless their consent grants `sync`."""
        updated_at = time.time()
        with self.db.transaction(_lock(site, visitor)):
            if not self.grants_sync(site, visitor):
                raise NoSyncConsent(visitor)
            self.db.execute("INSERT INTO profiles (site, visitor, document, updated_at) VALUES (?, ?, ?, ?)"
                            " ON CONFLICT (site, visitor) DO UPDATE SET document = excluded.document,"
                            " updated_at = excluded.updated_at", [site, visitor, document, updated_at])
        return updated_at

    def erase_visitor(self, site: str, visitor: str, reason: str = "visitor_request") -> dict:
        """Forget the visitor (profile, consent history, secret) and audit it without personal data:
        `reason` says who asked (the visitor, or an admin on their behalf)."""
        with self.db.transaction(_lock(site, visitor)):
            profile = self._delete_visitor_rows("profiles", site, visitor) > 0
            consents = self._delete_visitor_rows("consents", site, visitor)
            self._delete_visitor_rows("visitors", site, visitor)
            self._delete_visitor_rows("token_issues", site, visitor)
            self._audit_erasure(site, reason, profile=profile, consents=consents)
        return {"profile": profile, "consents": consents}

    def erasures(self, site: str) -> list[dict]:
        """The audit of erasures on `site`, oldest first."""
        return self.db.rows("SELECT * FROM erasures WHERE site = ? ORDER BY id", [site])

    def _delete_visitor_rows(self, table: str, site: str, visitor: str) -> int:
        return self.db.execute(f'DELETE FROM "{table}" WHERE site = ? AND visitor = ?', [site, visitor]).rowcount

    def _audit_erasure(self, site: str, reason: str, profile: bool, consents: int) -> None:
        self.db.execute("INSERT INTO erasures (site, reason, profile, consents, erased_at) VALUES (?, ?, ?, ?, ?)",
                        [site, reason, int(profile), consents, time.time()])


def _lock(site: str, visitor: str) -> str:
    return f"visitor:{site}\n{visitor}"
