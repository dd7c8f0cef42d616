"""python -m sync_server serve|create-site|set-origins|list-sites …

Every command that changes a site writes the audit log the dashboard shows, as the operating
system user who ran it, "via cli". Destructive commands (rotate-key, delete-site,
erase-visitor) want the site key typed again (`--confirm KEY`, or at the prompt).
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sync_server.config import Settings
from sync_server.sites import DEFAULT_HASH_BITS, parse_hash_bits, parse_site_key

T = TypeVar("T")
WHO, VIA = getpass.getuser(), "cli"  # who ran a command, and how, for the audit log



def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from sync_server.app import create_app

    settings = serve_settings(args)
    if not (settings.dist_dir / "personalize.js").exists():
        raise SystemExit(f"{settings.dist_dir} has no bundle: run `python build.py` first")
    try:
        settings.secret_key()
    except ValueError as error:
        raise SystemExit(str(error)) from None
    app = create_app(settings)
    base = f"http://{args.host}:{args.port}"
    if settings.demo_dir is not None:
        print(f"Demo shop:  {base}/demo/")
    print(f"Admin:      {base}/admin")
    if settings.demo_dir is not None:
        _print_demo_admin(app.state.store)
    print(f"Database:   {_shown(settings.db_path)}")
    if args.demo_traffic and settings.demo_dir is not None:
        _fill_demo(app.state.store, settings.demo_site, base, args.demo_traffic)
    # The demo's progress bar and hundreds of `POST /updates 202` lines cannot share a terminal.
    access_log = not args.quiet_access_log and not args.demo_traffic
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=access_log)


def serve_settings(args: argparse.Namespace) -> Settings:
    """The settings `serve ARGS` runs with (tests run a server in-process with the same options)."""
    return Settings(
        db_path=args.db, dist_dir=args.dist, demo_dir=None if args.no_demo else Settings.demo_dir,
        secret_key_path=args.secret_key,
        ip_rate=args.ip_rate, ip_burst=args.ip_burst, visitor_rate=args.visitor_rate, visitor_burst=args.visitor_burst,
        body_seconds=args.body_timeout,
    )


def _fill_demo(store, site: str, base: str, visits: int) -> None:
    """Once the server is up, let simulated visitors fill the demo site's dashboard (once per
    database), with a holdout group in the hero banner so the dashboard can show uplift."""
    import threading

    from sync_server.demo import traffic

    if store.rounds(site):
        return
    if store.editor_rules(site)[0] == 0:
        store.set_editor_rules(site, traffic.DEMO_RULES, admin="demo", change="demo rules", via="cli")
        store.set_round_config(site, dataclasses.replace(store.round_config(site), **traffic.DEMO_ROUNDS))
    if store.logged_sample(site) is None:
        store.set_logged_sample(site, traffic.logged_sample(traffic.Shop.demo(), traffic.DEMO_SAMPLE, seed=1), "demo",
                                via="cli")
    if store.catalog(site) is None:
        store.set_catalog(site, traffic.Shop.demo().catalog(), "demo", via="cli")
    print(f"Filling the demo dashboard: {visits} simulated visits by {traffic.DEMO_DEVICES} devices")
    threading.Thread(target=traffic.fill, args=(base, site, visits), daemon=True, name="demo-traffic").start()


def _print_demo_admin(store) -> None:
    from sync_server.admin.accounts import DEMO_ADMIN, ensure_demo_admin

    password = ensure_demo_admin(store)
    if password is None:
        print("            sign in with an admin account (`create-admin NAME` adds one)")
    else:
        print(f"            sign in as {DEMO_ADMIN!r} with password {password!r} (made just now)")


def create_admin(args: argparse.Namespace) -> None:
    import getpass

    from sync_server.admin import accounts
    from sync_server.storage import Store

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("The same again: ") != password:
            raise SystemExit("the passwords differ; no admin was added")
    try:
        accounts.create_admin(Store(args.db), args.name, password)
    except ValueError as error:
        raise SystemExit(f"{error}; no admin was added") from None
    print(f"admin {args.name!r} can sign in at /admin/login")


def create_site(args: argparse.Namespace) -> None:
    from sync_server.storage import Store

    store = Store(args.db)
    try:
        store.create_site(args.site, hash_bits=args.hash_bits)
    except ValueError as error:
        raise SystemExit(f"{error}; no site was added") from None
    if args.origins:
        store.set_site_origins(args.site, args.origins)
    store.audit(args.site, WHO, "site created", {"hash_bits": args.hash_bits, "origins": args.origins}, VIA)
    print(f"site {args.site!r} is ready; pages may call it from {_origins_text(store, args.site)}")


def set_origins(args: argparse.Namespace) -> None:
    from sync_server.storage import Store, UnknownSite

    store = Store(args.db)
    try:
        store.set_site_origins(args.site, args.origins)
    except UnknownSite:
        raise SystemExit(f"no site {args.site!r} in {_shown(args.db)}: add it with create-site") from None
    store.audit(args.site, WHO, "origins", {"origins": args.origins}, VIA)
    print(f"site {args.site!r}: pages may call it from {_origins_text(store, args.site)}")


def simulate(args: argparse.Namespace) -> None:
    import httpx

    from sync_server.demo import traffic

    try:
        print(traffic.simulate(args.url, args.site, args.devices, args.visits, seed=args.seed))
    except (ValueError, httpx.HTTPError) as error:
        raise SystemExit(f"simulation stopped: {error}") from None


def rotate_key(args: argparse.Namespace) -> None:
    from sync_server.storage import UnknownSite

    store = _store_with_site(args)
    _confirm(args, "rotate its key")
    try:
        store.rotate_site_key(args.site, args.new_key, admin=WHO, via=VIA)
    except UnknownSite:
        raise SystemExit(f"no site {args.site!r} in {_shown(args.db)}") from None
    except ValueError as error:
        raise SystemExit(f"{error}; the key was not changed") from None
    print(f"site {args.site!r} is now {args.new_key!r}: pages need data-site=\"{args.new_key}\"; "
          f"running servers refuse the old key within a second; rotating back to it restores it")


def delete_site(args: argparse.Namespace) -> None:
    store = _store_with_site(args)
    _confirm(args, "delete it and everything it keeps")
    store.delete_site(args.site, admin=WHO, via=VIA)
    print(f"site {args.site!r} is deleted; its audit log stays")


def erase_visitor(args: argparse.Namespace) -> None:
    from sync_server.admin.dashboard import ADMIN_ERASURE

    store = _store_with_site(args)
    _confirm(args, "erase the visitor")
    erased = store.erase_visitor(args.site, args.visitor, reason=ADMIN_ERASURE)
    store.audit(args.site, WHO, "visitor erased", {"profile": erased["profile"], "consent records": erased["consents"]},
                VIA)
    print(f"erased {'a profile and ' if erased['profile'] else ''}{erased['consents']} consent records; "
          "the audit log counts it without the id")


def set_holdout(args: argparse.Namespace) -> None:
    from edge.rules import RuleError, Rules

    store = _store_with_site(args)
    _, rules = store.editor_rules(args.site)
    try:
        document = Rules.from_dict({**rules, "holdout": args.share}).to_dict()
    except RuleError as error:
        raise SystemExit(f"{error}; the holdout was not changed") from None
    version = store.set_editor_rules(args.site, document, WHO, change=f"holdout {args.share:g}", via=VIA)
    print(f"site {args.site!r}: {100 * args.share:g}% of visitors are held out on every slot (rules v{version}); "
          "running servers pass it on within a second")


def import_catalog(args: argparse.Namespace) -> None:
    from sync_server.catalog import Catalog, CatalogError, fetch

    store = _store_with_site(args)
    source = args.source
    try:
        is_url = source.startswith(("http://", "https://"))
        catalog = fetch(source, allow_private=True) if is_url else Catalog.parse(Path(source).read_bytes())
    except (OSError, CatalogError) as error:
        raise SystemExit(f"{source}: {error}; the catalog was not imported") from None
    store.set_catalog(args.site, catalog.to_dict(), WHO, VIA)
    print(f"site {args.site!r}: a catalog of {len(catalog.variants())} variants in {len(catalog.slots)} slots "
          "names the dashboard's weights")


def create_server_key(args: argparse.Namespace) -> None:
    import secrets

    from sync_server.channels import key_hash

    store = _store_with_site(args)
    key = f"p13n_sk_{secrets.token_urlsafe(32)}"
    store.add_server_key(args.site, key_hash(key), args.name, WHO, VIA)
    print(key)
    print(f"site {args.site!r}: the server key {args.name!r} above calls /v1/sites/{args.site}/decide and /events "
          "from your own backend; it is shown once, keep it secret (never in pages)", file=sys.stderr)


def _store_with_site(args: argparse.Namespace):
    from sync_server.storage import Store, UnknownSite

    store = Store(args.db)
    try:
        store.site(args.site)
    except UnknownSite:
        raise SystemExit(f"no site {args.site!r} in {_shown(args.db)}: add it with create-site") from None
    return store


def _confirm(args: argparse.Namespace, what: str) -> None:
    """Go on only once the site key was typed again (`--confirm`, or at the prompt)."""
    typed = args.confirm
    if typed is None and sys.stdin.isatty():
        typed = input(f"Type the site key {args.site!r} to {what}: ").strip()
    if typed != args.site:
        raise SystemExit(f"not confirmed: give --confirm {args.site} to {what}; nothing was changed")


def load_sample(args: argparse.Namespace) -> None:
    from sync_server.replay import LoggedSample
    from sync_server.storage import Store, UnknownSite

    try:
        lines = args.file.read_text().splitlines()
        sample = LoggedSample.parse([json.loads(line) for line in lines if line.strip()])
        Store(args.db).set_logged_sample(args.site, sample.to_rows(), admin=WHO, via=VIA)
    except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        raise SystemExit(f"{args.file}: {error}; the sample was not loaded") from None
    except UnknownSite:
        raise SystemExit(f"no site {args.site!r} in {_shown(args.db)}: add it with create-site") from None
    print(f"site {args.site!r}: {len(sample.impressions)} logged impressions for offline replay")


def list_sites(args: argparse.Namespace) -> None:
    from sync_server.storage import Store

    store = Store(args.db)
    for site in store.sites():
        print(f"{site['site']}\thash_bits={site['hash_bits']}\torigins: {_origins_text(store, site['site'])}")


def migrate_db(args: argparse.Namespace) -> None:
    from sync_server.storage import copy

    try:
        counts = copy.copy_database(args.source, args.target)
    except (ValueError, ConnectionError) as error:
        raise SystemExit(f"{error}; nothing was copied") from None
    print(f"copied {sum(counts.values())} rows of {len(counts)} tables from {_shown(args.source)} to {_shown(args.target)}")
    if not isinstance(args.source, str):
        print(f"serve it with --secret-key {args.source.with_suffix('.key')} (visitors' secrets are hashed with it)")


def _shown(db: Path | str) -> str:
    """A database as messages name it: a URL without its password."""
    from sync_server.storage.database import without_password

    return without_password(str(db))


def _origins_text(store, site: str) -> str:
    return ", ".join(store.site_origins(site)) or "its own origin only (the demo pages)"


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser whose ValueError names the problem."""
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _origin(text: str) -> str:
    from sync_server.middleware.origins import parse_origin  # it brings Starlette; other commands need not

    return parse_origin(text)


def _visitor(text: str) -> str:
    from sync_server.checks import VISITOR_ID, VISITOR_ID_RULE, matching

    return matching("visitor", text, VISITOR_ID, VISITOR_ID_RULE)


def _database_target(text: str | Path) -> Path | str:
    from sync_server.storage.database import (
        parse_target,  # no psycopg unless a URL asks for it
    )

    return parse_target(text)


_site_key, _hash_bits, _origin_argument = _argument(parse_site_key), _argument(parse_hash_bits), _argument(_origin)
_database = _argument(_database_target)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.handler(args)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync_server", description="The p13n sync server.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the server (with the demo pages unless --no-demo)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--dist", type=Path, default=Settings.dist_dir, help="the built bundle (default: dist/)")
    run.add_argument("--no-demo", action="store_true", help="serve no demo pages and create no demo site")
    run.add_argument("--log-level", default="info")
    run.add_argument("--quiet-access-log", action="store_true",
                     help="no line per request (always so with --demo-traffic, whose progress bar needs the terminal)")
    run.add_argument("--secret-key", type=Path, help="key file for visitors' secret hashes, made on first "
                     "start (default: beside the database, DB.key); keep it, and keep it out of DB backups")
    run.add_argument("--ip-rate", type=float, default=Settings.ip_rate,
                     help="/v1 requests per second per client IP (default: %(default)s; 0: no limit)")
    run.add_argument("--ip-burst", type=int, default=Settings.ip_burst, help="(default: %(default)s)")
    run.add_argument("--visitor-rate", type=float, default=Settings.visitor_rate,
                     help="consent and profile requests per second per visitor (default: %(default)s)")
    run.add_argument("--visitor-burst", type=int, default=Settings.visitor_burst, help="(default: %(default)s)")
    run.add_argument("--body-timeout", type=float, default=Settings.body_seconds, metavar="SECONDS",
                     help="a request's body must arrive within this, or 408 (default: %(default)s)")
    run.add_argument("--demo-traffic", type=int, default=0, metavar="VISITS",
                     help="fill a new demo site with this many simulated visits once the server is up")
    run.set_defaults(handler=serve)

    crowd = commands.add_parser("simulate", help="simulated visitors' devices use a running server, over HTTP")
    crowd.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default: %(default)s)")
    crowd.add_argument("--site", default=Settings.demo_site, help="(default: %(default)s)")
    crowd.add_argument("--devices", type=int, default=200, help="(default: %(default)s)")
    crowd.add_argument("--visits", type=int, default=10_000, help="(default: %(default)s)")
    crowd.add_argument("--seed", type=int, default=0, help="the same seed gives the same visitors")
    crowd.set_defaults(handler=simulate)

    site = commands.add_parser("create-site", help="add a site with an empty global model")
    site.add_argument("site", type=_site_key)
    site.add_argument("--hash-bits", type=_hash_bits, default=DEFAULT_HASH_BITS, help="2^bits weights (default: %(default)s)")
    site.add_argument("--origin", dest="origins", type=_origin_argument, action="append", default=[],
                      help="an origin whose pages may call the site, e.g. https://shop.example (repeatable)")
    site.set_defaults(handler=create_site)

    origins = commands.add_parser("set-origins", help="replace the origins whose pages may call a site")
    origins.add_argument("site", type=_site_key)
    origins.add_argument("origins", nargs="*", type=_origin_argument, metavar="ORIGIN",
                         help="e.g. https://shop.example; none: only the server's own origin")
    origins.set_defaults(handler=set_origins)

    rotation = commands.add_parser("rotate-key", help="give a site a new key; the old one stops working")
    rotation.add_argument("site", type=_site_key)
    rotation.add_argument("new_key", type=_site_key)
    rotation.set_defaults(handler=rotate_key)

    deletion = commands.add_parser("delete-site", help="delete a site and all it keeps (its audit log stays)")
    deletion.add_argument("site", type=_site_key)
    deletion.set_defaults(handler=delete_site)

    erasure = commands.add_parser("erase-visitor", help="forget a visitor on their behalf (audited without the id)")
    erasure.add_argument("site", type=_site_key)
    erasure.add_argument("visitor", type=_argument(_visitor))
    erasure.set_defaults(handler=erase_visitor)

    holdout = commands.add_parser("set-holdout", help="the share of visitors held out on every slot, e.g. 0.05")
    holdout.add_argument("site", type=_site_key)
    holdout.add_argument("share", type=float)
    holdout.set_defaults(handler=set_holdout)

    catalog = commands.add_parser("import-catalog", help="the site's public catalog, to name the dashboard's weights")
    catalog.add_argument("site", type=_site_key)
    catalog.add_argument("source", help="a JSON file, or an http(s) URL to fetch it from (see sync_server/catalog.py)")
    catalog.set_defaults(handler=import_catalog)

    server_key = commands.add_parser("create-server-key", help="a key for the site's own backend (decide, events)")
    server_key.add_argument("site", type=_site_key)
    server_key.add_argument("name", help="what it is for, e.g. newsletter")
    server_key.set_defaults(handler=create_server_key)

    for command in (rotation, deletion, erasure):
        command.add_argument("--confirm", metavar="SITE_KEY", help="the site key again, to confirm")

    sample = commands.add_parser("load-sample", help="give a site a logged sample of random traffic for offline replay")
    sample.add_argument("site", type=_site_key)
    sample.add_argument("file", type=Path, help="JSON lines, one impression each (see sync_server/replay.py)")
    sample.set_defaults(handler=load_sample)

    listing = commands.add_parser("list-sites", help="show every site and its allowed origins")
    listing.set_defaults(handler=list_sites)

    admin = commands.add_parser("create-admin", help="add an account that can sign in to the admin dashboard")
    admin.add_argument("name")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin.set_defaults(handler=create_admin)

    move = commands.add_parser("migrate-db", help="copy a database's whole state into a new, empty one")
    move.add_argument("--from", dest="source", type=_database, required=True, help="e.g. data/p13n.db")
    move.add_argument("--to", dest="target", type=_database, required=True, help="e.g. postgresql://p13n@db/p13n")
    move.set_defaults(handler=migrate_db)

    default_db = os.environ.get("P13N_DB") or Settings.db_path
    # A string default is parsed only when a command runs: --help imports no storage (and no NumPy).
    for command in (run, site, origins, rotation, deletion, erasure, holdout, catalog, server_key, sample, listing,
                    admin):
        command.add_argument("--db", type=_database, default=str(default_db),
                             help="a SQLite file or a postgresql://USER@HOST/DB URL (default: $P13N_DB, else "
                             "data/p13n.db)")
    return parser


if __name__ == "__main__":
    main()
