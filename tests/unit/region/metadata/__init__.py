"""region.metadata."""
