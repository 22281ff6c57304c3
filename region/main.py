"""
``maas-region``: the region daemon and its administrative subcommands.

    maas-region migrate
    maas-region createadmin [--username U] [--password P] [--email E]
    maas-region apikey --username U [--generate | --delete KEY]
    maas-region shared-secret [--write FILE]
    maas-region serve [--listen HOST:PORT] [--rpc-listen HOST:PORT]

Every subcommand reads the database URL from ``--database-url``,
``MAAS_DATABASE_URL`` or the config file (``--config``/``MAAS_REGION_CONFIG``).
This is the only module that installs and imports the global reactor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from region.config import ConfigError, RegionConfig, redact_url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maas-region", description="The MAAS region controller.")
    parser.add_argument("--config", help="a TOML configuration file")
    parser.add_argument("--database-url", help="libpq URL of the database (MAAS_DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("migrate", help="create or upgrade the database schema")

    create = commands.add_parser("createadmin", help="create an administrator")
    create.add_argument("--username")
    create.add_argument("--password")
    create.add_argument("--email")

    apikey = commands.add_parser("apikey", help="print, add or delete a user's API keys")
    apikey.add_argument("--username")
    apikey.add_argument("--generate", action="store_true", help="add a new key")
    apikey.add_argument("--delete", metavar="KEY", help="delete this key")

    secret = commands.add_parser(
        "shared-secret", help="print the secret clusters share with the region (hex), "
        "creating it on first use")
    secret.add_argument("--write", metavar="FILE",
                        help="also write it to FILE (mode 0640), for a cluster's --secret-file")

    serve = commands.add_parser("serve", help="run the region in the foreground")
    serve.add_argument("--listen", metavar="HOST:PORT", help="REST API address (5240)")
    serve.add_argument("--rpc-listen", metavar="HOST:PORT", help="cluster RPC address (5250)")
    serve.add_argument("--maas-url", help="URL nodes and clusters use to reach this region")
    serve.add_argument("--log-level", choices=["debug", "info", "warn", "error", "critical"])
    return parser


def install_reactor() -> Any:
    """Install Twisted's asyncio reactor and return it."""
    from twisted.internet import asyncioreactor

    if "twisted.internet.reactor" not in sys.modules:
        asyncioreactor.install(asyncio.new_event_loop())
    from twisted.internet import reactor

    return reactor


def start_logging(level: str) -> None:
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(textFileLogObserver(sys.stdout), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def _fail(message: str) -> int:
    print(f"maas-region: {message}", file=sys.stderr)
    return 1


def run_command(config: RegionConfig, work: Callable[[Any], Coroutine[Any, Any, None]],
                *, needs_schema: bool = True) -> int:
    """Open the database, run work(db), and return an exit code."""
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    from region.admin import CommandError
    from region.db.migrate import pending_migrations
    from region.db.pool import Database, DatabaseUnavailable

    outcome: list[int] = []

    async def body(reactor: Any) -> None:
        db = Database(reactor, config.database_url, size=1, application_name="maas-region-admin")
        try:
            await db.start()
        except DatabaseUnavailable as error:
            outcome.append(_fail(
                f"cannot connect to the database at {redact_url(config.database_url)}: "
                f"{error.__cause__ or error}"))
            return
        try:
            if needs_schema and await pending_migrations(db):
                raise CommandError("the database schema is not current; "
                                   "run 'maas-region migrate' first.")
            await work(db)
            outcome.append(0)
        except CommandError as error:
            outcome.append(_fail(str(error)))
        finally:
            db.close()

    install_reactor()
    try:
        react(lambda reactor: Deferred.fromCoroutine(body(reactor)))
    except SystemExit as done:
        if done.code not in (0, None):
            return int(done.code) if isinstance(done.code, int) else 1
    return outcome[0] if outcome else 1


def serve(config: RegionConfig) -> int:
    reactor = install_reactor()
    start_logging(config.log_level)
    from twisted.internet.defer import ensureDeferred
    from twisted.logger import Logger

    from region.service import StartupError, make_service

    log = Logger(namespace="region.main")
    service = make_service(config, reactor)
    exit_code = [0]

    async def start() -> None:
        try:
            await service.startService()
        except Exception as error:
            message = str(error) if isinstance(error, StartupError) else repr(error)
            print(f"maas-region: cannot start: {message}", file=sys.stderr)
            exit_code[0] = 1
            reactor.stop()
            return
        host, port = config.listen
        log.info("Region serving the API on {host}:{port}; MAAS URL {url}",
                 host=host, port=port, url=config.effective_maas_url)

    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.callWhenRunning(lambda: ensureDeferred(start()))
    reactor.run()
    return exit_code[0]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {"database_url": args.database_url}
    if args.command == "serve":
        overrides.update(listen=args.listen, rpc_listen=args.rpc_listen,
                         maas_url=args.maas_url, log_level=args.log_level)
    try:
        config = RegionConfig.load(os.environ, args.config, overrides)
    except ConfigError as error:
        return _fail(f"bad configuration:\n{error}")

    from region import admin

    if args.command == "serve":
        return serve(config)
    if args.command == "migrate":
        return run_command(config, lambda db: admin.run_migrate(db, sys.stdout),
                           needs_schema=False)
    if args.command == "createadmin":
        return run_command(config, lambda db: admin.run_createadmin(
            db, username=args.username, password=args.password, email=args.email))
    if args.command == "apikey":
        return run_command(config, lambda db: admin.run_apikey(
            db, sys.stdout, username=args.username, generate=args.generate, delete=args.delete))
    if args.command == "shared-secret":
        return run_command(config, lambda db: admin.run_shared_secret(
            db, sys.stdout, write=args.write))
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
