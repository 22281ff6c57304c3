"""One module per API resource; each declares its handlers and their operations."""
