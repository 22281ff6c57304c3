"""Unit tests of power/: schemas, registry, redaction, the driver base, drivers."""
