"""Every SQL statement of the region, one module per aggregate."""
