"""Meituan consume results / history records → typed redemption data (docs/platforms.md#meituan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class VoucherInfo:
    """What prepare says about a voucher, shown to staff before they confirm."""

    receipt_code: str
    deal_id: str
    deal_title: str
    deal_price: Decimal
    available_count: int
    mobile_masked: str
    expires_at: str


@dataclass
class ConsumedVoucher:
    receipt_code: str
    order_id: str
    deal_id: str
    deal_title: str
    amount: Decimal  # what the customer paid for the consumed vouchers
    count: int
    mobile_masked: str
    consumed_at: datetime | None = None
    shop_account: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0.00")


def voucher_from_prepare(data: dict[str, Any]) -> VoucherInfo:
    return VoucherInfo(
        receipt_code=str(data.get("receiptCode") or ""),
        deal_id=str(data.get("dealId") or ""),
        deal_title=str(data.get("dealTitle") or ""),
        deal_price=_money(data.get("dealPrice")),
        available_count=int(data.get("count") or 0),
        mobile_masked=str(data.get("mobile") or ""),
        expires_at=str(data.get("receiptEndDate") or ""),
    )


def _paid(row: dict[str, Any]) -> Decimal:
    details = row.get("paymentDetail") or []
    if details:
        return sum((_money(d.get("amount")) for d in details), Decimal("0.00"))
    return _money(row.get("dealPrice"))


def consumed_from_result(rows: list[dict[str, Any]], *, count: int) -> ConsumedVoucher:
    """The consume call returns one row per consumed voucher; we record them as one order."""
    first = rows[0]
    return ConsumedVoucher(
        receipt_code=str(first.get("receiptCode") or ""),
        order_id=str(first.get("orderId") or ""),
        deal_id=str(first.get("dealId") or ""),
        deal_title=str(first.get("dealTitle") or ""),
        amount=sum((_paid(r) for r in rows), Decimal("0.00")),
        count=max(count, len(rows)),
        mobile_masked=str(first.get("mobile") or ""),
        raw={"result": rows},
    )


def consumed_from_history(row: dict[str, Any]) -> ConsumedVoucher:
    consumed_at = None
    raw_time = row.get("consumeTime") or row.get("verifyTime")
    if raw_time:
        try:
            consumed_at = datetime.strptime(str(raw_time), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        except ValueError:
            consumed_at = None
    count = int(row.get("count") or 1)
    return ConsumedVoucher(
        receipt_code=str(row.get("receiptCode") or ""),
        order_id=str(row.get("orderId") or ""),
        deal_id=str(row.get("dealId") or ""),
        deal_title=str(row.get("dealTitle") or ""),
        amount=_paid(row) if row.get("paymentDetail") else _money(row.get("dealPrice")) * count,
        count=count,
        mobile_masked=str(row.get("mobile") or ""),
        consumed_at=consumed_at,
        shop_account=str(row.get("appShopAccount") or ""),
        raw=row,
    )
