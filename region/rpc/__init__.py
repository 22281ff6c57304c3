"""
The region's side of the region-cluster RPC.

- ``secret``: the shared secret, kept in the database (config ``rpc_shared_secret``).
- ``connections``: ClusterConnections, the live connections by cluster uuid.
- ``service``: the listening service and RegionServerProtocol (handshake, keepalive).
- ``registration``: Register/RegisterV2 semantics (master takeover, pending, rejected).
- ``responders``: the region's answers to ``rpc.commands.region``.
- ``clusterops``: what those answers do to nodes, events, leases and configuration.
- ``power``: ClusterPowerControl, powering nodes through their cluster.
- ``advertise``: the ``eventloops`` table and ``GET /MAAS/rpc/``.
- ``addresses``: this host's IPv4 addresses, for advertising.
"""
