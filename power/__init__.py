"""
Power drivers, one module per power type, and their parameter schemas.

``registry`` (with ``schema``, ``address`` and ``redact``) is pure and is what
the region imports, to describe power types and to validate and redact power
parameters.  ``base`` defines the driver template (``on``/``off``/``query``
with a timeout and fatal/retryable errors from ``errors``); the drivers
(``ipmi``, ``ether_wake``, ...) run on the cluster, through ``process``.
"""
