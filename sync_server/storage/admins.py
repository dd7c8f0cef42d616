"""Admins: their accounts and sign-in sessions, the editor rules and logged samples they set
for sites, and the audit log of every change they make.

Sessions are kept by the SHA-256 of their token, so a leaked database holds no usable
session; they live in the database, so every replica knows every session. So do the
token buckets that limit sign-in tries when replicas share a database (ratelimit.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from sync_server.sites import DEFAULT_RULES
from sync_server.storage.database import Database
from sync_server.storage.errors import AdminExists


class AdminStore:
    db: Database
    rules_changes: int  # editor rules set through this Store: caches of them check it

    def create_admin(self, name: str, password_hash: str) -> None:
        """Add an admin account; AdminExists if the name is taken."""
        try:
            with self.db.transaction():
                self.db.execute("INSERT INTO admins (name, password_hash, created_at) VALUES (?, ?, ?)",
                                [name, password_hash, time.time()])
        except self.db.integrity_errors:
            raise AdminExists(name) from None

    def admin(self, name: str) -> dict | None:
        return self.db.row("SELECT * FROM admins WHERE name = ?", [name])

    def count_admins(self) -> int:
        return self.db.value("SELECT count(*) FROM admins")

    def create_admin_session(self, token_hash: str, admin: str, csrf_token: str, expires_at: float) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM admin_sessions WHERE expires_at < ?", [time.time()])
            self.db.execute("INSERT INTO admin_sessions (token_hash, admin, csrf_token, expires_at) VALUES (?, ?, ?, ?)",
                            [token_hash, admin, csrf_token, expires_at])

    def admin_session(self, token_hash: str) -> dict | None:
        """The unexpired session with that token hash, or None."""
        return self.db.row("SELECT * FROM admin_sessions WHERE token_hash = ? AND expires_at >= ?",
                           [token_hash, time.time()])

    def delete_admin_session(self, token_hash: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM admin_sessions WHERE token_hash = ?", [token_hash])

    def editor_rules(self, site: str) -> tuple[int, dict]:
        """The newest version of `site`'s editor rules and its document (version 0: the default
        rules, a site-wide holdout)."""
        self.site(site)
        row = self.db.row("SELECT version, document FROM editor_rules WHERE site = ? ORDER BY version DESC LIMIT 1",
                          [site])
        return (row["version"], orjson.loads(row["document"])) if row else (0, dict(DEFAULT_RULES))

    def set_editor_rules(self, site: str, document: dict, admin: str, change: str = "rules",
                         via: str = "dashboard") -> int:
        """Store a new version of `site`'s rules (checked by the caller) and audit it as `change`;
        its version."""
        with self.db.transaction(f"rules:{site}"):
            version = self.editor_rules(site)[0] + 1
            self.db.execute("INSERT INTO editor_rules (site, version, document, admin, created_at) VALUES (?, ?, ?, ?, ?)",
                            [site, version, orjson.dumps(document).decode(), admin, time.time()])
            self._audit(site, admin, f"{change} (rules v{version})", document, via)
        self.rules_changes += 1
        return version

    def set_logged_sample(self, site: str, rows: list[dict], admin: str, via: str = "dashboard") -> None:
        """Replace `site`'s logged sample (checked by the caller) and audit it."""
        self.site(site)
        with self.db.transaction():
            self.db.execute('INSERT INTO logged_samples (site, "rows", impressions, admin, uploaded_at)'
                            ' VALUES (?, ?, ?, ?, ?) ON CONFLICT (site) DO UPDATE SET "rows" = excluded."rows",'
                            ' impressions = excluded.impressions, admin = excluded.admin,'
                            ' uploaded_at = excluded.uploaded_at',
                            [site, orjson.dumps(rows).decode(), len(rows), admin, time.time()])
            self._audit(site, admin, "logged sample", {"impressions": len(rows)}, via)

    def logged_sample(self, site: str) -> tuple[float, list[dict]] | None:
        """When `site`'s logged sample was uploaded, and its rows; None if it has none."""
        row = self.db.row('SELECT uploaded_at, "rows" FROM logged_samples WHERE site = ?', [site])
        return (row["uploaded_at"], orjson.loads(row["rows"])) if row else None

    def audit(self, site: str, admin: str, action: str, detail: dict, via: str = "dashboard") -> None:
        """Record that `admin` did `action` on `site` through `via` (dashboard, api, cli);
        `detail` says what it was set to."""
        with self.db.transaction():
            self._audit(site, admin, action, detail, via)

    def audit_log(self, site: str, limit: int = 50) -> list[dict]:
        """The latest changes to `site`, newest first, each with its detail decoded."""
        rows = self.db.rows("SELECT * FROM admin_audit WHERE site = ? ORDER BY id DESC LIMIT ?", [site, limit])
        return [{**row, "detail": orjson.loads(row["detail"])} for row in rows]

    def rate_bucket(self, key: str, take: Callable[[tuple[float, float] | None], tuple[float, float]],
                    now: float) -> float:
        """Apply `take` to the token bucket `key` (tokens, as of when; None if there is none)
        and keep the tokens it leaves, as of `now`; the wait it returns (see ratelimit.py).
        Buckets untouched for an hour are full again, and dropped."""
        with self.db.transaction(f"bucket:{key}"):
            row = self.db.execute("SELECT tokens, as_of FROM rate_buckets WHERE key = ?", [key]).fetchone()
            tokens, wait = take(row)
            self.db.execute("DELETE FROM rate_buckets WHERE as_of < ?", [now - 3600])
            self.db.execute("INSERT INTO rate_buckets (key, tokens, as_of) VALUES (?, ?, ?) ON CONFLICT (key)"
                            " DO UPDATE SET tokens = excluded.tokens, as_of = excluded.as_of", [key, tokens, now])
        return wait

    def _audit(self, site: str, admin: str, action: str, detail: dict, via: str = "dashboard") -> None:
        self.db.execute("INSERT INTO admin_audit (site, admin, action, detail, at, via) VALUES (?, ?, ?, ?, ?, ?)",
                        [site, admin, action, orjson.dumps(detail).decode(), time.time(), via])
