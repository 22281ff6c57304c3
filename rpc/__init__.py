"""
The AMP contract between region and cluster: commands, argument types, the handshake.

Both daemons import this package; it imports neither of them.

- ``rpc.commands.common``: Identify, Authenticate (both sides answer them).
- ``rpc.commands.region``: what a cluster calls on the region.
- ``rpc.commands.cluster``: what the region calls on a cluster.
- ``rpc.arguments``: Bytes, Choice, ParsedURL, StructureAsJSON,
  CompressedAmpList; the 64 KiB value limit; fitting_prefix for paging.
- ``rpc.errors``: the errors that cross the wire, under 1.8's names.
- ``rpc.auth``: the HMAC handshake and the shared secret's file.
- ``rpc.protocol``: RPCProtocol, the AMP subclass both daemons speak.
- ``rpc.client``: RPCClient, calls with deadlines.
- ``rpc.testing``: call_responder and in-memory connections for tests.

Compatibility with MAAS 1.8: every 1.8 command keeps its name, its argument
and response names and types, and its error names.  Where we differ:

- RegisterV2 is new (``since = "1.8+mt1"``): it answers ACCEPTED or PENDING
  and raises ClusterRejected, because our clusters wait for an
  administrator.  Register is unchanged; our region raises ClusterPending or
  ClusterRejected there, which travel as CannotRegisterCluster.
- Every command may also answer NotAuthenticated: nothing but Identify and
  Authenticate is served before the peer has proved it knows the secret
  (1.8 served everything).  A 1.8 peer would see it as an unknown error.
- Authenticate is unchanged on the wire; the challenger also requires the
  salt to be 16 bytes and the digest 32.
- Every command has a timeout (1.8 callers waited forever).
"""
