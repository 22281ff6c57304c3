"""The metadata service (``/MAAS/metadata/``): what booting nodes read and report."""
