"""`inventory-service` command: serve, init-db, seed, load."""
import argparse
import datetime
import json
import signal
import sys

from . import __version__
from .config import ConfigError, ensure_layout, load_settings


def _settings(args):
    try:
        return load_settings(args.env_file)
    except ConfigError as exc:
        print("inventory-service: configuration error: %s" % exc, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args):
    import uvicorn  # pylint: disable=import-outside-toplevel

    from .app import create_app  # pylint: disable=import-outside-toplevel

    settings = _settings(args)
    # uvicorn takes SIGINT/SIGTERM over while it runs (in-flight requests finish, lifespan shutdown runs),
    # then restores this handler and re-raises the signal: exiting 0 here makes a requested stop a clean one.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    app = create_app(settings, console_logs=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def cmd_init_db(args):
    from . import db  # pylint: disable=import-outside-toplevel

    settings = _settings(args)
    ensure_layout(settings)
    db.init_db(settings.database_path)
    print(json.dumps({"database": str(settings.database_path), "initialized": True}))
    return 0


def cmd_seed(args):
    from . import demo  # pylint: disable=import-outside-toplevel

    settings = _settings(args)
    ensure_layout(settings)
    counts = demo.generate(settings.database_path, items=args.items, days=args.days, seed=args.seed,
                           reset=args.reset, end_date=args.end_date)
    print(json.dumps(counts, sort_keys=True))
    return 0


def cmd_import_consumption(args):
    from . import db, importer  # pylint: disable=import-outside-toplevel

    settings = _settings(args)
    ensure_layout(settings)
    db.init_db(settings.database_path)
    try:
        result = importer.import_csv(settings.database_path, args.file, create_items=args.create_items)
    except importer.ImportFailed as exc:
        for error in exc.errors:
            print("inventory-service import-consumption: %s" % error, file=sys.stderr)
        print("inventory-service import-consumption: nothing imported", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


def cmd_load(args):
    from . import load  # pylint: disable=import-outside-toplevel

    try:
        result = load.run(args.url, args.username, args.password, requests=args.requests,
                          seconds=args.seconds, concurrency=args.concurrency)
    except (load.LoadError, ValueError) as exc:
        print("inventory-service load: %s" % exc, file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0 if result["failed"] == 0 else 1


def build_parser():
    parser = argparse.ArgumentParser(prog="inventory-service", description=__doc__)
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", required=True)

    def with_env(name, help_text):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--env-file", help="path of the .env file (default: ./.env); its directory is the service home")
        return sub

    with_env("serve", "run the HTTP service in the foreground").set_defaults(func=cmd_serve)
    with_env("init-db", "create the directory layout and the database schema").set_defaults(func=cmd_init_db)
    seed = with_env("seed", "fill the database with demo data")
    seed.add_argument("--items", type=int, default=300)
    seed.add_argument("--days", type=int, default=730)
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument("--reset", action="store_true", help="replace earlier demo rows instead of skipping")
    seed.add_argument("--end-date", type=datetime.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                      help="last day of the history (default: today); fixes which days a holdout holds")
    seed.set_defaults(func=cmd_seed)
    imports = with_env("import-consumption", "load daily consumption history from a CSV file "
                                             "(item_code,date,quantity); all rows or none")
    imports.add_argument("file", help="CSV file with the header item_code,date,quantity")
    imports.add_argument("--create-items", action="store_true",
                         help="add item codes the item master does not know instead of refusing them")
    imports.set_defaults(func=cmd_import_consumption)
    load = commands.add_parser("load", help="send inventory writes through the HTTP API")
    load.add_argument("--url", required=True)
    load.add_argument("--username", required=True)
    load.add_argument("--password", required=True)
    load.add_argument("--requests", type=int, default=100)
    load.add_argument("--seconds", type=float, default=30.0)
    load.add_argument("--concurrency", type=int, default=4)
    load.set_defaults(func=cmd_load)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
