"""Jobs for the extraction workers' pool that crash their worker as a C library can: the pool is generic,
and extraction never dies on purpose. Module-level, so that a worker imports them by name."""

import os


def length_unless_poison(items: list[str]) -> list[int]:
    """Each item's length; a batch that holds "poison" ends its worker at once."""
    if "poison" in items:
        os._exit(70)
    return [len(item) for item in items]


def always_dies(items: list[str]) -> list[int]:
    os._exit(70)
