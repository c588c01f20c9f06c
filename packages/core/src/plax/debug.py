"""Looking inside plax programs, under jit, vmap and grad too (as jax.debug): `print`,
`callback`, `breakpoint`. Each runs on the host when the program runs (not when it is traced),
with the values as NumPy arrays; under vmap once per batch member. And
`visualize_array_sharding(x)`: which devices hold which block of an Array."""

from __future__ import annotations

from plax._src.callback import debug_callback as callback
from plax._src.sharded import visualize_array_sharding

__all__ = ["breakpoint", "callback", "print", "visualize_array_sharding"]

_print = print


def print(fmt: str, *args, **kwargs) -> None:  # noqa: A001 - jax.debug.print's name
    """`fmt.format(*args, **kwargs)` printed when the program runs, with the runtime values."""
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print expects a format string first, got {fmt!r:.80}")

    def show(*a, **k):
        # one write per line: devices of a pmap print concurrently, lines must not interleave
        _print(fmt.format(*a, **k) + "\n", end="")

    callback(show, *args, **kwargs)


def breakpoint(*args, **kwargs) -> None:  # noqa: A001 - jax.debug.breakpoint's name
    """Enter the debugger (`sys.breakpointhook`, pdb by default) when the program runs, with
    the values given here (NumPy arrays) as the arguments `args` and `kwargs` of its frame."""
    import sys

    def enter(*args, **kwargs):
        sys.breakpointhook()

    callback(enter, *args, **kwargs)
