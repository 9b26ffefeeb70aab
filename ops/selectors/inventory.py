"""Reads of the inventory: the functions list, one function's header, the poll statuses."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, QuerySet

from ops.models import Account, Alias, Function, PollStatus

PAGE_SIZE = 50


@dataclass(frozen=True)
class FunctionFilters:
    """What the functions list can be narrowed by; built from the query string by dashboard.params.function_filters."""

    q: str = ""
    account: str = ""  # account name
    region: str = ""
    runtime: str = ""
    tag: str = ""  # "key=value" or "key"
    include_gone: bool = False

    def as_query(self) -> dict[str, str]:
        out = {k: v for k, v in self.__dict__.items() if isinstance(v, str) and v}
        if self.include_gone:
            out["gone"] = "1"
        return out


def function_queryset(*, filters: FunctionFilters) -> QuerySet[Function]:
    qs = Function.objects.select_related("account")
    if not filters.include_gone:
        qs = qs.filter(gone_at=None)
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    if filters.account:
        qs = qs.filter(account__name=filters.account)
    if filters.region:
        qs = qs.filter(region=filters.region)
    if filters.runtime:
        qs = qs.filter(runtime=filters.runtime)
    if filters.tag:
        key, sep, value = filters.tag.partition("=")
        qs = qs.filter(tags__contains={key: value}) if sep else qs.filter(tags__has_key=key)
    return qs


def function_page(*, filters: FunctionFilters, page: int | str | None, per_page: int = PAGE_SIZE) -> Page:
    """One page of the functions list, with aliases prefetched (2 queries + count, whatever N)."""
    qs = function_queryset(filters=filters).order_by("name", "region", "account__name").prefetch_related(
        Prefetch("aliases", queryset=Alias.objects.filter(gone_at=None).order_by("name"))
    )
    return Paginator(qs, per_page).get_page(page)


@dataclass(frozen=True)
class FilterChoices:
    accounts: list[str]
    regions: list[str]
    runtimes: list[str]
    tags: list[str]


def function_filter_choices() -> FilterChoices:
    live = Function.objects.filter(gone_at=None)
    tag_keys: set[str] = set()
    # Tag keys are few; values are listed only as key=value for the most common keys.
    for tags in live.values_list("tags", flat=True).distinct()[:500]:
        for k, v in (tags or {}).items():
            tag_keys.add(f"{k}={v}")
    return FilterChoices(
        accounts=list(Account.objects.order_by("name").values_list("name", flat=True)),
        regions=sorted(set(live.values_list("region", flat=True).distinct())),
        runtimes=sorted(r for r in set(live.values_list("runtime", flat=True).distinct()) if r),
        tags=sorted(tag_keys)[:200],
    )


def functions_known() -> bool:
    """Whether the inventory has ever seen a function (gone ones count): an empty page then says
    "nothing matches" rather than "nothing polled yet"."""
    return Function.objects.exists()


def function_header(*, pk: int) -> Function:
    """A function with what its header shows: account, live aliases, versions."""
    return (
        Function.objects.select_related("account")
        .prefetch_related(
            Prefetch("aliases", queryset=Alias.objects.filter(gone_at=None).order_by("name")),
            "versions",
            "queue_links__queue",
        )
        .get(pk=pk)
    )


def account_list() -> QuerySet[Account]:
    """Every monitored account, enabled or not, by name."""
    return Account.objects.order_by("name")


def poll_statuses() -> QuerySet[PollStatus]:
    return PollStatus.objects.select_related("account").order_by("account__name", "region", "source")


def accounts_without_status() -> list[tuple[Account, str]]:
    """Enabled account×regions that have never been polled (the status page says so)."""
    seen = set(PollStatus.objects.values_list("account_id", "region"))
    return [(a, r) for a in Account.objects.filter(enabled=True) for r in a.regions if (a.pk, r) not in seen]

