"""Pagination, bounded (issue 14).

* The API's limit/offset pagination: a ``limit`` or ``offset`` that is not a non-negative integer
  within range is a 400 naming the parameter, never a clamp or a database error.
* Counts are bounded: a list page counts at most ``COUNT_LIMIT`` rows past where it is (``SELECT
  COUNT(*) FROM (… LIMIT n)``), never the whole brand — a full ``COUNT(*)`` over a million customers
  was most of a list page's time. Past the bound the total is shown as "10,000+" (``count_capped``
  in the API) and the next-page link stays, because the bound always reaches past the page shown.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.paginator import EmptyPage, Page, Paginator
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
# Rows a list counts beyond the page it shows before it says "at least".
COUNT_LIMIT = 10_000


if TYPE_CHECKING:  # django-stubs makes them generic; Django's classes are not subscriptable
    _PaginatorBase = Paginator[Any]
    _PageBase = Page[Any]
else:
    _PaginatorBase, _PageBase = Paginator, Page


def bounded_count(queryset: Any, bound: int) -> tuple[int, bool]:
    """``(n, capped)``: the number of rows, or ``bound`` and True when there are more. Counts at most
    ``bound + 1`` rows, without the list's ordering (the count does not need the sort)."""
    if hasattr(queryset, "order_by") and hasattr(queryset, "query"):
        n = queryset.order_by()[: bound + 1].count()
    else:
        n = len(queryset)
    return (bound, True) if n > bound else (n, False)


class BoundedPaginator(_PaginatorBase):
    """A console list's paginator whose count stops at ``COUNT_LIMIT`` rows past the page asked for.

    ``near_page`` is the page the request asks for (the raw ``?page=`` value): the count reaches one
    page past it, so "下一页" is right on every page, however deep. ``capped`` says the total shown is a
    lower bound; ``count_display`` and ``pages_display`` carry the "+" for the templates."""

    def __init__(self, object_list: Any, per_page: int, *, near_page: Any = None, limit: int | None = None) -> None:
        super().__init__(object_list, per_page)
        limit = COUNT_LIMIT if limit is None else limit
        text = str(near_page or "").strip()
        number = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 1
        # A multiple of the page size, so a capped count still ends on a full page.
        self.bound = max(limit - limit % per_page, (number + 1) * per_page)
        self.capped = False

    @cached_property
    def count(self) -> int:
        n, self.capped = bounded_count(self.object_list, self.bound)
        return n

    def validate_number(self, number: Any) -> int:
        """A page past a capped count moves the bound one page past it and counts again."""
        try:
            return super().validate_number(number)
        except EmptyPage:
            if not self.capped:
                raise
            self.bound = (int(number) + 1) * self.per_page
            for cached in ("count", "num_pages"):
                self.__dict__.pop(cached, None)
            return super().validate_number(number)

    def _get_page(self, *args: Any, **kwargs: Any) -> Page[Any]:
        return _BoundedPage(*args, **kwargs)

    @property
    def count_display(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"

    @property
    def pages_display(self) -> str:
        return f"{self.num_pages:,}+" if self.capped else f"{self.num_pages:,}"


class _BoundedPage(_PageBase):
    paginator: BoundedPaginator

    def has_next(self) -> bool:
        # The last counted page of a capped count has rows after it.
        return super().has_next() or (self.paginator.capped and self.number == self.paginator.num_pages)


def _bounded(request: Request, name: str, maximum: int) -> None:
    raw = request.query_params.get(name)
    if raw is None:
        return
    # Present but empty (``?offset=``) is not an integer either: refused like any other non-integer.
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)) or int(text) > maximum:
        raise ValidationError({name: [_("必须是 0 到 %(max)s 之间的整数") % {"max": maximum}]})


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT
    count_capped = False

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        _bounded(request, self.limit_query_param, MAX_LIMIT)
        _bounded(request, self.offset_query_param, MAX_OFFSET)
        # The count's bound must reach past this page, so read limit and offset first (as DRF does).
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self._bound = max(COUNT_LIMIT, self.offset + (self.limit or 0))
        return super().paginate_queryset(queryset, request, view)

    def get_count(self, queryset: Any) -> int:
        n, self.count_capped = bounded_count(queryset, getattr(self, "_bound", COUNT_LIMIT))
        return n

    def get_next_link(self) -> str | None:
        if self.count_capped and self.count is not None:  # a row past the bound, which is past this page
            self.count += 1
            try:
                return super().get_next_link()
            finally:
                self.count -= 1
        return super().get_next_link()

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            OrderedDict(
                [
                    ("count", self.count),
                    ("count_capped", self.count_capped),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = super().get_paginated_response_schema(schema)
        properties = response["properties"]
        properties["count"] = {
            **properties["count"],
            "description": f"Rows matching, counted up to {COUNT_LIMIT:,} past the page (then a lower bound)",
        }
        response["properties"] = {
            "count": properties.pop("count"),
            "count_capped": {
                "type": "boolean",
                "example": False,
                "description": "true when count is a lower bound: more rows match than were counted",
            },
            **properties,
        }
        response["required"] = [*response.get("required", []), "count_capped"]
        return response

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``limit`` and ``offset`` with the bounds :meth:`paginate_queryset` enforces."""
        bounds = {self.limit_query_param: MAX_LIMIT, self.offset_query_param: MAX_OFFSET}
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in bounds:
                parameter["schema"] = {**parameter["schema"], "minimum": 0, "maximum": bounds[parameter["name"]]}
        return parameters
