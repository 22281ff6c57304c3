"""Unit tests of the AMP contract: argument types, commands, handshake, protocol, client."""
