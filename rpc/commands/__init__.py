"""AMP command declarations: common (both sides answer), region (the region answers), cluster."""
