"""The AMP contract between region and cluster: commands, argument types, the handshake."""
