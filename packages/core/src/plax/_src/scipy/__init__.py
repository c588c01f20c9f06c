"""Implementations behind plax.scipy."""
