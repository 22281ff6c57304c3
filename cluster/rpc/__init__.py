"""
The cluster's side of the region-cluster RPC: discovering the region's event
loops, one reconnecting link to each, the handshake, and the responders.
"""
