"""region.domain."""
