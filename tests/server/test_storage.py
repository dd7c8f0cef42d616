"""The storage on both databases: numbered migrations, all-or-nothing transactions, and
`migrate-db`, which copies a site's whole state from a SQLite file into another database."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import numpy as np
import pytest

from sync_server.records import Consent, RoundConfig, Update
from sync_server.rounds import close_round
from sync_server.storage import Store, connect, schema
from sync_server.tokens import TokenKeys, parse_token
from tests.conftest import CLI, ROOT


def a_used_site(store: Store) -> None:
    """A site with closed rounds, an open one, a visitor with consent and a profile, rules and an admin."""
    store.create_site("shop", hash_bits=6)
    store.set_round_config("shop", RoundConfig(min_devices=1, target_devices=2, noise_multiplier=0.0,
                                               epsilon_budget=None))
    for round_ in range(3):
        store.add_updates([("shop", Update(round_, 5, 0.1, [1, 2], [0.2, -0.1], update_id=f"u{round_}-{n}"))
                           for n in range(2)])
        close_round(store, "shop", np.random.default_rng(round_))
    store.add_updates([("shop", Update(3, 5, 0.0, [3], [0.3], update_id="pending"))])
    store.record_consent("shop", "hash", Consent("visitor-1", "2025-01", True, True, True))
    store.save_profile("shop", "visitor-1", '{"likes": ["tents"]}')
    store.set_site_origins("shop", ["https://shop.example"])
    store.create_admin("alice", "password-hash")
    store.set_editor_rules("shop", {"hero": "tent"}, admin="alice")


def migrate_db(source, target) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "migrate-db", "--from", str(source), "--to", str(target)],
                          cwd=ROOT, capture_output=True, text=True)


def test_migrate_db_copies_a_sites_whole_state_and_the_copy_goes_on(tmp_path, db):
    source = Store(tmp_path / "old.db")
    a_used_site(source)
    done = migrate_db(source.path, db)
    assert done.returncode == 0, done.stderr
    assert "serve it with --secret-key" in done.stdout
    copy = Store(db)
    for table in set(source.db.table_names()) - {"schema_migrations"}:
        order = ", ".join(source.db.columns(table))
        assert copy.db.rows(f'SELECT * FROM "{table}" ORDER BY {order}') == \
            source.db.rows(f'SELECT * FROM "{table}" ORDER BY {order}'), table
    assert copy.round_state("shop") == source.round_state("shop")
    # New rows take ids after the copied ones, and the copy's rounds go on where they were.
    assert copy.add_updates([("shop", Update(3, 5, 0.0, [4], [0.1], update_id="next"))]) == \
        [source.db.value("SELECT max(id) FROM updates") + 1]
    assert close_round(copy, "shop", np.random.default_rng(9)).version == 4
    copy.record_consent("shop", "hash", Consent("visitor-1", "2025-01", True, True, False))
    assert copy.profile("shop", "visitor-1") is None


def test_migrate_db_copies_into_an_empty_database_only(tmp_path, db):
    a_used_site(Store(tmp_path / "old.db"))
    Store(db).create_site("taken")
    done = migrate_db(tmp_path / "old.db", db)
    assert done.returncode != 0
    assert "is not empty (it has rows in sites, models)" in done.stderr
    assert [site["site"] for site in Store(db).sites()] == ["taken"]


def test_a_url_of_another_database_is_refused_by_name_and_nothing_is_made():
    done = subprocess.run([*CLI, "list-sites", "--db", "mysql://shop@db/p13n"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "'mysql://shop@db/p13n' is a mysql URL: give a SQLite file's path or a postgresql:// URL" in done.stderr
    assert not (ROOT / "mysql:").exists()


def test_serving_postgresql_needs_the_replicas_shared_secret_key(postgres_cluster):
    done = subprocess.run([*CLI, "serve", "--no-demo", "--db", postgres_cluster], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "with a PostgreSQL database, give --secret-key FILE" in done.stderr


def test_a_database_records_its_schema_version_and_migrates_once(db):
    store = Store(db)
    assert schema.migrate(store.db) == len(schema.MIGRATIONS)
    assert store.db.value("SELECT count(*) FROM schema_migrations") == len(schema.MIGRATIONS)
    if store.db.dialect == "postgresql":  # migration 6: an update's row stays whole in its page
        assert store.db.value("SELECT reloptions FROM pg_class WHERE oid = 'updates'::regclass") == \
            ["toast_tuple_target=8160"]


def test_a_config_saved_with_the_old_hourly_deadline_takes_the_month_and_a_chosen_one_stays(db):
    """Migration 7: `round_seconds` was an hour by default, which closed small sites' rounds at
    `min_devices`; configs saved with it move to today's default, other deadlines stay."""
    old = connect(db)
    schema.migrate(old, to=6)
    for site, deadline in (("hourly", 3600.0), ("daily", 86_400.0)):
        old.execute("INSERT INTO sites (site, hash_bits) VALUES (?, 4)", [site])
        saved = dataclasses.asdict(RoundConfig(round_seconds=deadline, min_devices=5, target_devices=50))
        del saved["check_seconds"]  # the field came with the migration
        old.execute("INSERT INTO round_configs (site, config) VALUES (?, ?)", [site, json.dumps(saved)])
    store = Store(db)
    assert store.round_config("hourly") == RoundConfig(min_devices=5, target_devices=50)
    assert store.round_config("daily") == RoundConfig(round_seconds=86_400.0, min_devices=5, target_devices=50)


def test_a_transaction_that_fails_leaves_nothing_behind_and_nested_ones_join_it(db):
    store = Store(db)
    with pytest.raises(RuntimeError), store.db.transaction("round:shop"):
        store.create_site("shop")  # its own transaction joins this one
        raise RuntimeError("something went wrong")
    assert store.sites() == []


def test_a_batch_of_updates_is_sorted_into_stored_replayed_spent_and_expired(db):
    store = Store(db)
    store.create_site("shop", hash_bits=6)
    keys = TokenKeys(bytes(32))

    def update(update_id: str, token: dict) -> tuple[str, Update]:
        return "shop", Update(0, 5, 0.0, [1], [0.5], update_id=update_id, token=parse_token(token))

    first = [update(f"u-{n}", keys.mint("shop", 1)) for n in range(300)]  # many keys looked up at once
    assert all(isinstance(i, int) for i in store.add_updates(first))
    fresh = keys.mint("shop", 1)
    outcomes = store.add_updates([
        first[1],  # sent again: a replay
        ("shop", dataclasses.replace(first[2][1], update_id="v-1")),  # a new update with a spent token
        update("v-2", keys.mint("shop", 2)),  # a token of a round that is not open
        update("v-3", fresh), update("v-3", keys.mint("shop", 1)),  # one update_id twice in a batch
        update("v-4", fresh),  # one token twice in a batch
        ("gone", Update(0, 5, 0.0, [1], [0.5], token=parse_token(keys.mint("gone", 1)))),
    ])
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "TokenSpent", "TokenExpired", "int", "NoneType",
                                                    "TokenSpent", "UnknownSite"]
    assert store.count_updates("shop") == 301
    assert store.db.value("SELECT count(*) FROM spent_tokens WHERE site = ?", ["shop"]) == 301
