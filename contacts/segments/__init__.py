"""Segments: a rule tree (docs/segments.md) validated and compiled to ONE SQL query.

Counts, the campaign planner and every ``id`` list read ``contacts_segmentfact``: one narrow row per
customer that Postgres triggers keep identical to the customer's segment columns (dates as platform
days in Asia/Shanghai). The tag part becomes intarray ``query_int`` (``tag_ids @@ '(1|2)&(3|4)&!5'``)
next to ``organization_id = %s``, so both columns of the composite GIN ``segmentfact_org_tags_gin``
serve it; every other condition is a predicate on the same row or an ``EXISTS`` on the follow /
group-member / event tables (behaviour conditions registered by higher layers,
:mod:`contacts.segments.registry`). Store scoping (``store_ids`` of the actor) is one more predicate.
Querysets (samples, bulk actions) apply the same conditions to ``contacts_customer`` itself, so they
keep its ordering indexes; both forms are tested against a brute-force evaluation.

Modules: :mod:`.leaf` (one flat condition object), :mod:`.tree` (all / any / not, compilation),
:mod:`.describe` (the Chinese sentence), :mod:`.registry` and :mod:`.behaviour` (time-window conditions).
"""

from contacts.segments.behaviour import register_contacts_conditions
from contacts.segments.describe import describe
from contacts.segments.leaf import (
    CHOICE_LISTS,
    CONSENT_VALUES,
    COUNT_MAX,
    CUSTOM_OPS,
    DATE_RANGES,
    ID_LISTS,
    KNOWN_KEYS,
    LTV_DIGITS,
    LTV_PLACES,
    NUMBER_RANGES,
    SHANGHAI,
    TAG_KEYS,
    known_keys,
    tag_query,
    validate_leaf,
)
from contacts.segments.registry import SegmentCondition, SegmentError, conditions, register_segment_condition
from contacts.segments.tree import (
    BUILDER_DEPTH,
    MAX_DEPTH,
    MAX_NODES,
    _check_references,
    compile_sql,
    compile_where,
    count_sql,
    depth,
    leaves,
    segment_count,
    segment_queryset,
    segment_sample,
    validate,
)

__all__ = [
    "BUILDER_DEPTH",
    "CHOICE_LISTS",
    "CONSENT_VALUES",
    "COUNT_MAX",
    "CUSTOM_OPS",
    "DATE_RANGES",
    "ID_LISTS",
    "KNOWN_KEYS",
    "LTV_DIGITS",
    "LTV_PLACES",
    "MAX_DEPTH",
    "MAX_NODES",
    "NUMBER_RANGES",
    "SHANGHAI",
    "TAG_KEYS",
    "SegmentCondition",
    "SegmentError",
    "_check_references",
    "compile_sql",
    "compile_where",
    "conditions",
    "count_sql",
    "depth",
    "describe",
    "known_keys",
    "leaves",
    "register_contacts_conditions",
    "register_segment_condition",
    "segment_count",
    "segment_queryset",
    "segment_sample",
    "tag_query",
    "validate",
    "validate_leaf",
]
