"""Power drivers, one module per power type, and their parameter schemas."""
