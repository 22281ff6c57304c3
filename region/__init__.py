"""The MAAS region controller: REST API, metadata service, RPC endpoint and all state."""
