"""The tables, as numbered migrations that SQLite and PostgreSQL apply alike.

`migrate(db)` applies the migrations a database has not had yet, each in its own transaction
with the record of it in `schema_migrations`, so a database says which version it is at and
several processes starting at once apply each migration once. A migration is appended, never
changed: a database that has had it will not have it again.

A migration only one of the databases needs is a dict of scripts by `db.dialect`.

Migration 1 is the schema every database had before migrations were numbered: its statements
say IF NOT EXISTS, so such a database takes it as it is.

>>> from sync_server.storage.database import connect
>>> db = connect(":memory:")
>>> migrate(db) == len(MIGRATIONS) and "updates" in db.table_names()
True
"""

from __future__ import annotations

import time

from sync_server.storage.database import Database

# {id}: an integer key the database generates; {blob}: bytes. Everything else both spell alike.
# Booleans are INTEGER 0/1, as SQLite has always kept them. No foreign keys: SQLite never
# enforced the ones its tables declare, and rotating a site's key renames it everywhere.
MIGRATIONS: list[str | dict[str, str]] = [
    """-- 1: the schema before migrations were numbered
    CREATE TABLE IF NOT EXISTS sites (site TEXT PRIMARY KEY, hash_bits BIGINT, created_at DOUBLE PRECISION);
    CREATE TABLE IF NOT EXISTS models (site TEXT, version BIGINT, intercept DOUBLE PRECISION, weights {blob},
        created_at DOUBLE PRECISION, PRIMARY KEY (site, version));
    CREATE TABLE IF NOT EXISTS updates (id {id}, site TEXT, round BIGINT, base_version BIGINT, samples BIGINT,
        intercept DOUBLE PRECISION, idx {blob}, val {blob}, counters TEXT, update_id TEXT, received_at DOUBLE
        PRECISION);
    CREATE INDEX IF NOT EXISTS idx_updates_site_round ON updates (site, round);
    -- A replayed update_id is refused; updates without one (NULL) never collide.
    CREATE UNIQUE INDEX IF NOT EXISTS idx_updates_site_update_id ON updates (site, update_id);
    -- How many updates each round holds and when the first came, kept up by every insert:
    -- writers look at the open round several times a second, and counting its rows would
    -- take longer the more it holds.
    CREATE TABLE IF NOT EXISTS round_sizes (site TEXT, round BIGINT, updates BIGINT, opened_at DOUBLE
        PRECISION, PRIMARY KEY (site, round));
    INSERT INTO round_sizes SELECT site, round, count(*), min(received_at) FROM updates WHERE true GROUP BY site, round
        ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS round_configs (site TEXT PRIMARY KEY, config TEXT);
    CREATE TABLE IF NOT EXISTS rounds (site TEXT, version BIGINT, closed_at DOUBLE PRECISION, reason TEXT,
        devices BIGINT, noise_multiplier DOUBLE PRECISION, clip_norm DOUBLE PRECISION, learning_rate DOUBLE
        PRECISION, aggregator TEXT, epsilon DOUBLE PRECISION, delta DOUBLE PRECISION, PRIMARY KEY (site,
        version));
    CREATE TABLE IF NOT EXISTS round_counters (site TEXT, version BIGINT, slot TEXT, variant TEXT, arm TEXT,
        impressions DOUBLE PRECISION, clicks DOUBLE PRECISION, PRIMARY KEY (site, version, slot, variant, arm));
    CREATE TABLE IF NOT EXISTS token_issues (site TEXT, visitor TEXT, round BIGINT, issued_at DOUBLE
        PRECISION, PRIMARY KEY (site, visitor, round));
    CREATE TABLE IF NOT EXISTS network_issues (site TEXT, round BIGINT, network TEXT, tokens BIGINT, PRIMARY
        KEY (site, round, network));
    CREATE TABLE IF NOT EXISTS spent_tokens (site TEXT, round BIGINT, nonce TEXT, PRIMARY KEY (site, nonce));
    CREATE TABLE IF NOT EXISTS site_origins (site TEXT, origin TEXT, PRIMARY KEY (site, origin));
    CREATE TABLE IF NOT EXISTS visitors (site TEXT, visitor TEXT, secret_hash TEXT, registered_at DOUBLE
        PRECISION, PRIMARY KEY (site, visitor));
    CREATE TABLE IF NOT EXISTS consents (id {id}, site TEXT, visitor TEXT, policy_version TEXT, personalize
        INTEGER, improve INTEGER, sync INTEGER, recorded_at DOUBLE PRECISION);
    CREATE INDEX IF NOT EXISTS idx_consents_site_visitor ON consents (site, visitor);
    CREATE TABLE IF NOT EXISTS profiles (site TEXT, visitor TEXT, document TEXT, updated_at DOUBLE PRECISION,
        PRIMARY KEY (site, visitor));
    CREATE TABLE IF NOT EXISTS erasures (id {id}, site TEXT, reason TEXT, profile INTEGER, consents BIGINT,
        erased_at DOUBLE PRECISION);
    CREATE TABLE IF NOT EXISTS admins (name TEXT PRIMARY KEY, password_hash TEXT, created_at DOUBLE
        PRECISION);
    CREATE TABLE IF NOT EXISTS admin_sessions (token_hash TEXT PRIMARY KEY, admin TEXT, csrf_token TEXT,
        expires_at DOUBLE PRECISION);
    CREATE TABLE IF NOT EXISTS editor_rules (site TEXT, version BIGINT, document TEXT, admin TEXT, created_at
        DOUBLE PRECISION, PRIMARY KEY (site, version));
    CREATE TABLE IF NOT EXISTS admin_audit (id {id}, site TEXT, admin TEXT, action TEXT, detail TEXT, at
        DOUBLE PRECISION);
    CREATE INDEX IF NOT EXISTS idx_admin_audit_site ON admin_audit (site);
    CREATE TABLE IF NOT EXISTS logged_samples (site TEXT PRIMARY KEY, "rows" TEXT, impressions BIGINT, admin
        TEXT, uploaded_at DOUBLE PRECISION);
    CREATE TABLE IF NOT EXISTS retired_site_keys (key TEXT PRIMARY KEY, site TEXT, retired_at DOUBLE
        PRECISION);
    """,
    """-- 2: token buckets that every replica shares (sign-in tries)
    CREATE TABLE rate_buckets (key TEXT PRIMARY KEY, tokens DOUBLE PRECISION, as_of DOUBLE PRECISION);
    CREATE INDEX idx_rate_buckets_as_of ON rate_buckets (as_of);
    """,
    """-- 3: conversions a goal slot's clicks led to, published beside impressions and clicks
    ALTER TABLE round_counters ADD COLUMN conversions DOUBLE PRECISION;
    """,
    """-- 4: how each change came (dashboard, api, cli); a site's public catalog, which names its
    -- model's weights; the keys of a site's own backend (other channels), kept as SHA-256
    ALTER TABLE admin_audit ADD COLUMN via TEXT;
    CREATE TABLE catalogs (site TEXT PRIMARY KEY, document TEXT, imported_at DOUBLE PRECISION);
    CREATE TABLE server_keys (key_hash TEXT PRIMARY KEY, site TEXT, name TEXT, created_at DOUBLE PRECISION);
    """,
    """-- 5: evidence (sync_server/posterior.py): updates carry curvatures beside their gradients,
    -- and models the precisions of their weights, packed as weights are; older rows have none (NULL)
    ALTER TABLE updates ADD COLUMN intercept_curvature DOUBLE PRECISION;
    ALTER TABLE updates ADD COLUMN curvature {blob};
    ALTER TABLE models ADD COLUMN intercept_precision DOUBLE PRECISION;
    ALTER TABLE models ADD COLUMN precisions {blob};
    """,
    {"postgresql": """-- 6: an update's row (3.6 KiB with 300 weights) stays whole in its page: PostgreSQL
    -- would otherwise try to compress its arrays (random numbers, which do not compress) and move
    -- them to a side table past 2 KiB, which costs more than the rest of storing it
    ALTER TABLE updates SET (toast_tuple_target = 8160);
    """, "sqlite": ""},
    {"sqlite": """-- 7: a round's deadline was an hour by default, which also set how often devices look for a
    -- model (now `check_seconds`): every site under 1,000 visitors an hour closed rounds of 250. A
    -- config saved with that default takes today's month (records.RoundConfig.round_seconds)
    UPDATE round_configs SET config = json_set(config, '$.round_seconds', 2592000.0)
    WHERE CASE WHEN json_valid(config) THEN json_extract(config, '$.round_seconds') = 3600 END;
    """, "postgresql": """-- 7: as SQLite's; the pattern picks the rows, as a JSON cast would fail on a malformed one
    -- (and it has no question mark: that is the placeholder)
    UPDATE round_configs SET config = jsonb_set(config::jsonb, '{{round_seconds}}', '2592000.0')::text
    WHERE config ~ '"round_seconds": 3600(\\.0)*[,}}]';
    """},
]


def migrate(db: Database, to: int = len(MIGRATIONS)) -> int:
    """Apply the migrations `db` has not had, up to version `to`; the version it is at afterwards."""
    with db.transaction("schema"):
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
                   " applied_at DOUBLE PRECISION)")
    version = _version(db)
    for number, script in enumerate(MIGRATIONS[version:to], start=version + 1):
        with db.transaction("schema"):
            if _version(db) >= number:  # another process applied it while this one waited
                continue
            if isinstance(script, dict):
                script = script[db.dialect]
            for statement in script.format(**db.types).split(";\n")[:-1]:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [number, time.time()])
    return _version(db)


def _version(db: Database) -> int:
    return db.value("SELECT coalesce(max(version), 0) FROM schema_migrations")
