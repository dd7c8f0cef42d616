"""python -m sync_server serve|create-site …"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync_server.config import Settings


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from sync_server.app import create_app

    settings = Settings(db_path=args.db, dist_dir=args.dist, demo_dir=None if args.no_demo else Settings.demo_dir)
    if not (settings.dist_dir / "personalize.js").exists():
        raise SystemExit(f"{settings.dist_dir} has no bundle: run `python build.py` first")
    app = create_app(settings)
    base = f"http://{args.host}:{args.port}"
    if settings.demo_dir is not None:
        print(f"Demo shop:  {base}/demo/")
    print(f"Admin:      {base}/admin")
    print(f"Database:   {settings.db_path}")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


def create_site(args: argparse.Namespace) -> None:
    from sync_server.storage import Store

    Store(args.db).create_site(args.site, hash_bits=args.hash_bits)
    print(f"site {args.site!r} is ready")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sync_server", description="The p13n sync server.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the server (with the demo pages unless --no-demo)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--dist", type=Path, default=Settings.dist_dir, help="the built bundle (default: dist/)")
    run.add_argument("--no-demo", action="store_true", help="serve no demo pages and create no demo site")
    run.add_argument("--log-level", default="info")
    run.set_defaults(handler=serve)

    site = commands.add_parser("create-site", help="add a site with an empty global model")
    site.add_argument("site")
    site.add_argument("--hash-bits", type=int, default=18)
    site.set_defaults(handler=create_site)

    for command in (run, site):
        command.add_argument("--db", type=Path, default=Settings.db_path, help="SQLite file (default: data/p13n.db)")
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
