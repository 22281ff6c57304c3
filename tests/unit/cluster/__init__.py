"""Unit tests of the cluster daemon."""
