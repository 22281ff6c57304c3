"""The MAAS 1.0 REST API, driven by one registry of operations."""
