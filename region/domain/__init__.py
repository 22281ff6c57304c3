"""Rules of the domain that need neither HTTP nor SQL."""
