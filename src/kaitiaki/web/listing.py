"""Server-side lists: paging, sorting, filtering and CSV export, one way for every list page.

A list page declares a :class:`ListSpec` (the sort keys and filters it accepts, each bound to a
SQL expression, and its CSV columns); :func:`parse` reads ``page``, ``per_page``, ``sort`` and
the filters from the query string and refuses (400, saying which and why) anything outside
those whitelists, so no raw value ever reaches SQL except as a bound parameter. The page's
read function applies :meth:`ListQuery.shape` on top of its own (already jurisdiction-scoped)
query, counts it, and reads one page with ``offset``/``limit``.

The same route with ``?format=csv`` answers the filtered, sorted rows of every page as a CSV
download, read from the database a chunk at a time, every cell through
``exports.csvcells`` (CSV injection), and audited as the user before the first byte leaves.
The list's ``/api`` twin takes the same parameters and answers one page as JSON.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Select

from kaitiaki.audit import record
from kaitiaki.exports import csvcells
from kaitiaki.store import Store
from kaitiaki.web.authz import CurrentUser

T = TypeVar("T")

PER_PAGE: tuple[int, ...] = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50
# Past this, a page number is a typo or a probe; SQL would still answer, with an empty page.
MAX_PAGE = 1_000_000
# Rows read per query while an export streams: bounded memory whatever the list's length.
EXPORT_CHUNK = 500
MAX_FILTER = 200


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter parameter: ``where(query, value)`` narrows the query with the value bound as a
    parameter; with ``choices`` only those values are accepted."""

    where: Callable[[Select[Any], str], Select[Any]]
    choices: tuple[str, ...] | None = None
    max_length: int = MAX_FILTER
    # An id: digits only (``where`` may then take ``int(value)``).
    number: bool = False


def contains(*columns: Any) -> Callable[[Select[Any], str], Select[Any]]:
    """A text filter: rows where any of ``columns`` holds the value, ignoring case (``%`` and
    ``_`` in the value are literal)."""
    from sqlalchemy import func, or_

    def where(query: Select[Any], value: str) -> Select[Any]:
        needle = value.lower()
        return query.where(or_(*(func.lower(c).contains(needle, autoescape=True) for c in columns)))

    return where


def equals(column: Any, *, upper: bool = False) -> Callable[[Select[Any], str], Select[Any]]:
    """An exact filter (``upper``: compared in upper case, as country codes are)."""
    from sqlalchemy import func

    def where(query: Select[Any], value: str) -> Select[Any]:
        if upper:
            return query.where(func.upper(column) == value.upper())
        return query.where(column == value)

    return where


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: its header and the cell of a row."""

    header: str
    cell: Callable[[Any], object]


@dataclass(frozen=True, slots=True)
class ListSpec:
    """What one list accepts. ``sorts`` maps a sort key to its SQL expression (or a tuple of
    them, all in the same direction); ``tiebreak`` (a
    unique column) follows it so that pages never repeat or skip a row; ``keep`` names other
    query parameters of the page (e.g. ``all``) that links carry along."""

    name: str
    sorts: Mapping[str, Any]
    default_sort: str
    tiebreak: Any
    columns: tuple[Column, ...]
    filters: Mapping[str, Filter] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list request, validated: what to show, in which order, which page."""

    spec: ListSpec
    page: int
    per_page: int
    sort: str
    descending: bool
    filters: Mapping[str, str]
    kept: Mapping[str, str]
    csv: bool = False

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def shape(self, query: Select[Any]) -> Select[Any]:
        """``query`` narrowed by the filters and put in order (without paging). Empty values
        sort last either way: a column's blanks are never what a person sorts to find."""
        for name, value in self.filters.items():
            query = self.spec.filters[name].where(query, value)
        found = self.spec.sorts[self.sort]
        exprs = (*(found if isinstance(found, tuple) else (found,)), self.spec.tiebreak)
        order = [(e.desc() if self.descending else e.asc()).nulls_last() for e in exprs]
        return query.order_by(None).order_by(*order)

    def params(self, **changes: object) -> dict[str, str]:
        """The query parameters of this list, with ``changes`` (None drops one); defaults are
        left out so links stay short."""
        values: dict[str, object] = {
            **self.kept,
            **self.filters,
            "sort": self.sort_param,
            "per_page": self.per_page,
            "page": self.page,
        }
        values.update(changes)
        if values.get("sort") == self.spec.default_sort:
            values.pop("sort")
        if values.get("per_page") == self.spec.per_page:
            values.pop("per_page")
        if values.get("page") == 1:
            values.pop("page")
        return {k: str(v) for k, v in values.items() if v is not None and v != ""}

    def url(self, **changes: object) -> str:
        return "?" + urlencode(self.params(**changes))

    def sort_url(self, key: str) -> str:
        """The link of a column header: sort by it (descending if it already sorts ascending),
        back to page one."""
        descending = key == self.sort and not self.descending
        return self.url(sort=("-" if descending else "") + key, page=None)

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"

    def clear_url(self) -> str:
        """This list without its filters."""
        return self.url(page=None, **dict.fromkeys(self.filters))

    def csv_url(self) -> str:
        return self.url(page=None, per_page=None, format="csv")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and what the pager needs."""

    items: list[T]
    total: int
    query: ListQuery

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))

    @property
    def first(self) -> int:
        return self.query.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.query.offset + len(self.items)

    @property
    def next_url(self) -> str | None:
        has_next = self.query.offset + len(self.items) < self.total
        return self.query.url(page=self.query.page + 1) if has_next else None

    @property
    def prev_url(self) -> str | None:
        if self.query.page <= 1:
            return None
        return self.query.url(page=min(self.query.page - 1, self.pages))


def _bad(message: str) -> HTTPException:
    return HTTPException(400, message)


def _number(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise _bad(f"{name} must be a whole number, not {raw[:40]!r}")
    return int(raw)


def parse(request: Request, spec: ListSpec) -> ListQuery:
    """The list parameters of ``request``, checked against ``spec``; 400 naming the bad one."""
    params = request.query_params
    page = _number(params.get("page"), "page", 1)
    if not 1 <= page <= MAX_PAGE:
        raise _bad(f"page must be between 1 and {MAX_PAGE}")
    per_page = _number(params.get("per_page"), "per_page", spec.per_page)
    if per_page not in PER_PAGE:
        raise _bad(f"per_page must be one of {', '.join(map(str, PER_PAGE))}")
    sort = params.get("sort") or spec.default_sort
    key = sort.removeprefix("-")
    if key not in spec.sorts:
        known = ", ".join(sorted(spec.sorts))
        raise _bad(f"cannot sort {spec.name} by {sort[:40]!r}; sort by one of: {known}")
    filters: dict[str, str] = {}
    for name, flt in spec.filters.items():
        value = params.get(name, "").strip()
        if not value:
            continue
        if len(value) > flt.max_length or not value.isprintable():
            raise _bad(f"the {name} filter is too long or holds control characters")
        if flt.number and not (value.isascii() and value.isdigit() and len(value) <= 9):
            raise _bad(f"{name} must be a whole number")
        if flt.choices is not None and value not in flt.choices:
            raise _bad(f"{name} must be one of: {', '.join(flt.choices)}")
        filters[name] = value
    kept = {name: params[name] for name in spec.keep if params.get(name)}
    fmt = params.get("format", "")
    if fmt not in ("", "html", "csv"):
        raise _bad("format must be csv (or left out)")
    return ListQuery(
        spec, page, per_page, key, sort.startswith("-"), filters, kept, csv=fmt == "csv"
    )


def csv_lines(columns: Iterable[Column], rows: Iterable[Any]) -> Iterator[str]:
    """The CSV text of ``rows``, a header line first, every cell neutralised."""
    columns = tuple(columns)
    buffer = io.StringIO()
    out = csvcells.writer(buffer)
    out.writerow([c.header for c in columns])
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        out.writerow([c.cell(row) for c in columns])
        yield buffer.getvalue()


def chunks(fetch: Callable[[int, int], list[T]]) -> Iterator[T]:
    """Every row ``fetch(offset, limit)`` gives, read ``EXPORT_CHUNK`` at a time."""
    offset = 0
    while True:
        batch = fetch(offset, EXPORT_CHUNK)
        yield from batch
        if len(batch) < EXPORT_CHUNK:
            return
        offset += EXPORT_CHUNK


def export(
    store: Store,
    user: CurrentUser,
    query: ListQuery,
    total: int,
    fetch: Callable[[int, int], list[Any]],
) -> StreamingResponse:
    """The whole filtered, sorted list as a CSV download; the export is written to the audit
    log as the user (with what was asked for) before any row is sent."""
    with store.session() as session:
        record(
            session,
            actor=user.actor,
            action="list.exported",
            target_type="list",
            target_id=query.spec.name,
            details={"filters": dict(query.filters), "sort": query.sort_param, "rows": total},
        )
    name = query.spec.name
    return StreamingResponse(
        csv_lines(query.spec.columns, chunks(fetch)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# What a list's read function answers: the page of rows, and what the template needs beside it.
Found = tuple[Page[Any], Any]


def cells(*names: str) -> tuple[Column, ...]:
    """CSV columns that are attributes of the row, each headed by its name."""
    from operator import attrgetter

    return tuple(Column(n, attrgetter(n)) for n in names)


def sql_list(
    store: Store, base: Select[Any], query: ListQuery, row: Callable[[Any], T]
) -> tuple[Page[T], Callable[[int, int], list[T]]]:
    """One page of ``base`` (already scoped) as ``query`` asks, and the reader of any slice of
    the same filtered, sorted rows (for the export). ``row`` turns a result row into an item."""
    shaped = query.shape(base)

    def fetch(offset: int, limit: int) -> list[T]:
        with store.session() as session:
            return [row(r) for r in session.execute(shaped.offset(offset).limit(limit))]

    items = [] if query.csv else fetch(query.offset, query.per_page)
    return Page(items, count(store, base, query), query), fetch


def count(store: Store, base: Select[Any], query: ListQuery) -> int:
    """How many rows of ``base`` the list's filters keep."""
    from sqlalchemy import func, select

    shaped = query.shape(base).order_by(None)
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(shaped.subquery())) or 0


def domain_list(
    query: ListQuery, read: Callable[[int, int | None], tuple[int, list[T]]]
) -> tuple[Page[T], Callable[[int, int], list[T]]]:
    """A list whose domain read function pages it: ``read(offset, limit)`` answers the total
    and one slice (the domain keeps its own scoping, e.g. jurisdictions, inside it)."""

    def fetch(offset: int, limit: int) -> list[T]:
        return read(offset, limit)[1]

    total, items = read(query.offset, 0 if query.csv else query.per_page)
    return Page(items, total, query), fetch


def listed(
    request: Request,
    user: CurrentUser,
    found: tuple[Page[Any], Callable[[int, int], list[Any]]],
    render: Callable[[Page[Any]], Response],
) -> Response:
    """The page rendered by ``render``, or with ``?format=csv`` the whole list exported."""
    page, fetch = found
    if page.query.csv:
        return export(request.app.state.store, user, page.query, page.total, fetch)
    return render(page)


def api_listed(
    request: Request,
    user: CurrentUser,
    response: Response,
    found: tuple[Page[Any], Callable[[int, int], list[Any]]],
) -> Any:
    """The JSON twin of a list page: one page of items, with ``X-Total-Count`` and a ``Link``
    header (``rel="next"``/``"prev"``) keeping the other parameters; ``format=csv`` exports."""
    page, fetch = found
    if page.query.csv:
        return export(request.app.state.store, user, page.query, page.total, fetch)
    response.headers["X-Total-Count"] = str(page.total)
    links = [
        f'<{request.url.path}{url}>; rel="{rel}"'
        for rel, url in (("next", page.next_url), ("prev", page.prev_url))
        if url is not None
    ]
    if links:
        response.headers["Link"] = ", ".join(links)
    return page.items
