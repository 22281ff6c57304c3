"""
``maas-cluster``: the cluster daemon.

    maas-cluster serve --region-url http://HOST:5240/MAAS/ --secret-file FILE
                       [--uuid UUID] [--name NAME] [--state-dir DIR]
                       [--log-level LEVEL] [--config FILE.toml]

The shared secret comes from the region (``maas-region shared-secret --write
FILE``).  Without ``--uuid`` (or ``CLUSTER_UUID``) the cluster generates one
on first start and keeps it in ``<state-dir>/cluster_uuid``.  SIGTERM and
Ctrl-C stop it cleanly.  This is the only module of ``cluster/`` that
installs and imports the global reactor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from cluster.config import LOG_LEVELS, ClusterConfig, ConfigError, secret_file_warning

#: Namespaces whose routine lines repeat ours (ClientService's "Scheduling
#: retry", AMP's "connection established/lost", "Starting factory"): shown
#: from warnings up.
QUIET_NAMESPACES = (
    "twisted.application._client_service.ClientService",
    "twisted.protocols.amp",
    "twisted.web.client._HTTP11ClientFactory",
    "twisted.internet.endpoints._WrappingFactory",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maas-cluster",
                                     description="The MAAS cluster controller.")
    parser.add_argument("--config", help="a TOML configuration file (MAAS_CLUSTER_CONFIG)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="run the cluster in the foreground")
    serve.add_argument("--region-url", metavar="URL",
                       help="the region's URL, e.g. http://10.0.0.1:5240/MAAS/ (MAAS_URL)")
    serve.add_argument("--secret-file", metavar="FILE",
                       help="the shared secret, hex (MAAS_SECRET_FILE; default "
                            "/var/lib/maas/secret)")
    serve.add_argument("--uuid", help="this cluster's uuid (CLUSTER_UUID; default: "
                                      "generated and kept in the state directory)")
    serve.add_argument("--name", help="this cluster's name in its logs (default: host name)")
    serve.add_argument("--state-dir", metavar="DIR",
                       help="where the cluster keeps its state (MAAS_CLUSTER_STATE_DIR)")
    serve.add_argument("--log-level", choices=LOG_LEVELS)
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
    for namespace in QUIET_NAMESPACES:
        predicate.setLogLevelForNamespace(namespace, max(LogLevel.warn,
                                                         LogLevel.levelWithName(level)))
    observer = FilteringLogObserver(textFileLogObserver(sys.stdout), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def _fail(message: str) -> int:
    print(f"maas-cluster: {message}", file=sys.stderr)
    return 1


def serve(config: ClusterConfig) -> int:
    reactor = install_reactor()
    start_logging(config.log_level)
    from twisted.logger import Logger

    from cluster.service import make_service

    log = Logger(namespace="cluster.main")
    warning = secret_file_warning(config.secret_file)
    if warning:
        log.warn("The shared secret file {warning}", warning=warning)
    service = make_service(config, reactor)

    def start() -> None:
        log.info("Cluster {name} ({uuid}) starting; region {url}", name=config.name,
                 uuid=config.uuid, url=config.region_url)
        service.startService()

    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.callWhenRunning(start)
    reactor.run()  # SIGINT and SIGTERM stop the reactor, which stops the services first
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {"region_url": args.region_url, "secret_file": args.secret_file,
                 "uuid": args.uuid, "name": args.name, "state_dir": args.state_dir,
                 "log_level": args.log_level}
    try:
        config = ClusterConfig.load(os.environ, args.config, overrides)
    except ConfigError as error:
        return _fail(f"bad configuration:\n{error}")
    if args.command == "serve":
        return serve(config)
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
