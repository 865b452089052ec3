"""The API's limit/offset pagination, bounded (issue 14): a ``limit`` or ``offset`` that is not a
non-negative integer within range is a 400 naming the parameter, never a clamp or a database error."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1


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

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        _bounded(request, self.limit_query_param, MAX_LIMIT)
        _bounded(request, self.offset_query_param, MAX_OFFSET)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``limit`` and ``offset`` with the bounds :meth:`paginate_queryset` enforces."""
        bounds = {self.limit_query_param: MAX_LIMIT, self.offset_query_param: MAX_OFFSET}
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in bounds:
                parameter["schema"] = {**parameter["schema"], "minimum": 0, "maximum": bounds[parameter["name"]]}
        return parameters
