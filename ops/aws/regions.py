"""Which region names exist, from botocore's own endpoint data (no AWS call)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def lambda_regions() -> frozenset[str]:
    """Every region botocore knows Lambda in (all partitions): a typo is caught before AWS is asked."""
    import botocore.session

    s = botocore.session.get_session()
    out: set[str] = set()
    for partition in s.get_available_partitions():
        out.update(s.get_available_regions("lambda", partition_name=partition, allow_non_regional=False))
    return frozenset(out)
