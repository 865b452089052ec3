"""Behaviour conditions that higher layers add to segment leaves (docs/segments.md#behaviour-conditions).

contacts is the lowest layer and never imports analytics or campaigns, yet a segment may ask "ordered
母婴 in the last 30 days" or "received a broadcast this week". Each such condition is registered here
from its app's ``AppConfig.ready()`` with everything the engine needs: how to validate and normalize
the leaf value, how to compile it to one SQL predicate on the customer id (an ``EXISTS`` /
``NOT EXISTS`` subquery with bound parameters), its JSON Schema for the OpenAPI document, a label and
a Chinese description for the rule sentence, and the id check against the organization.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class SegmentError(ValueError):
    """The expression cannot be used; the message (Chinese) names the field and says what to fix."""


# (normalized value, SQL expression of the customer id, now) -> (SQL predicate, params)
CompileFn = Callable[[dict[str, Any], str, dt.datetime], tuple[str, list[Any]]]
ValidateFn = Callable[[Any], dict[str, Any]]
# (normalized value, organization id or None) -> a Chinese phrase, e.g. "最近 30 天下过单"
DescribeFn = Callable[[dict[str, Any], int | None], str]
ReferencesFn = Callable[[dict[str, Any], int], None]
# (actor) -> {"<list name>": [{"id": …, "name": …}, …]}: what the console builder's pickers offer,
# already scoped to the actor (the builder renders them; contacts cannot query a higher app's tables).
OptionsFn = Callable[[Any], dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class SegmentCondition:
    key: str
    label: Any  # a (lazy) Chinese label, shown in the builder and in errors
    validate: ValidateFn
    compile: CompileFn
    describe: DescribeFn
    schema: dict[str, Any]
    check_references: ReferencesFn | None = None
    options: OptionsFn | None = None
    # Python evaluation for tests is not part of the registry: tests write their own brute force.


_CONDITIONS: dict[str, SegmentCondition] = {}


def register_segment_condition(
    key: str,
    *,
    compile_fn: CompileFn,
    validate_fn: ValidateFn,
    schema: dict[str, Any],
    label: Any,
    describe_fn: DescribeFn,
    check_references: ReferencesFn | None = None,
    options_fn: OptionsFn | None = None,
) -> None:
    """Add (or, on a repeated ``ready()``, replace) the leaf key ``key``."""
    if key in {"all", "any", "not"}:
        raise ValueError(f"{key!r} is a tree node, not a condition")
    _CONDITIONS[key] = SegmentCondition(
        key=key,
        label=label,
        validate=validate_fn,
        compile=compile_fn,
        describe=describe_fn,
        schema=schema,
        check_references=check_references,
        options=options_fn,
    )


def conditions() -> dict[str, SegmentCondition]:
    """The registered conditions, in registration order."""
    return dict(_CONDITIONS)
