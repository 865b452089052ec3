"""What a report is made of, for the page, the charts and the export: stats, charts and tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Column:
    key: str
    label: str
    kind: str = "text"  # text | int | money | pct | num


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    note: str = ""
    # Rows per page on the report page (0: all); exports always hold every row.
    page_size: int = 0


@dataclass
class Chart:
    id: str
    title: str
    kind: str  # line | bar | pie | heatmap | funnel
    x: list[str] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    y: list[str] = field(default_factory=list)
    money: bool = False
    pct: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "x": self.x,
            "y": self.y,
            "series": self.series,
            "money": self.money,
            "pct": self.pct,
        }


@dataclass
class Stat:
    label: str
    value: Any
    kind: str = "int"
    hint: str = ""


@dataclass
class Report:
    name: str
    title: str
    stats: list[Stat] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
