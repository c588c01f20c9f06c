"""plax-softclip: `softclip(x, limit)` and `mirror(x)`, plax primitives from a plugin."""

from plax_softclip.primitives import mirror, mirror_p, softclip, softclip_p

__all__ = ["mirror", "mirror_p", "softclip", "softclip_p"]
