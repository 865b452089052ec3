"""Erasure handlers for what channels keeps besides leads and inbox bodies (registered with contacts
in ``ChannelsConfig.ready``): customer transfers list the person's WeCom external_userid, Meituan
redemptions keep the masked mobile and Meituan's raw answer, remark pushes keep the remark text and
the (encrypted) remark phones sent to WeCom. Counts and outcomes stay."""

from __future__ import annotations

from django.db import connection

from channels.models import CustomerTransfer, MeituanRedemption, RemarkPush
from contacts import services as contact_services


def customer_transfers_erase(customer_id: int) -> dict[str, int]:
    """Each transfer naming one of the person's ids gets ``erased:<customer id>`` in its place, in the
    id list and as the key of its result (so the per-outcome counts still add up). One UPDATE per id
    the person has (one or two), over every transfer of the organization."""
    identifiers = contact_services.customer_identifiers(customer_id)
    if identifiers is None:
        return {"transfers": 0}
    placeholder = f"erased:{customer_id}"
    changed: set[int] = set()
    with connection.cursor() as cursor:
        for external_id in identifiers.external_ids:
            cursor.execute(
                f"""
                UPDATE {CustomerTransfer._meta.db_table}
                   SET external_userids = array_replace(external_userids, %s, %s),
                       results = CASE WHEN results ? %s
                                      THEN (results - %s) || jsonb_build_object(%s::text, results -> %s)
                                      ELSE results END
                 WHERE organization_id = %s AND %s = ANY(external_userids)
             RETURNING id
                """,
                [
                    external_id,
                    placeholder,
                    external_id,
                    external_id,
                    placeholder,
                    external_id,
                    identifiers.organization_id,
                    external_id,
                ],
            )
            changed |= {row[0] for row in cursor.fetchall()}
    return {"transfers": len(changed)}


def customer_redemptions_erase(customer_id: int) -> dict[str, int]:
    """The person's Meituan redemptions keep the deal, count, amount and time, not the mobile."""
    erased = MeituanRedemption.objects.filter(customer_id=customer_id).update(mobile_masked="", raw={})
    return {"meituan_redemptions": erased}


def customer_remark_pushes_erase(customer_id: int) -> dict[str, int]:
    """Remark pushes to WeCom for the person's follows keep who, when and the outcome, not the text
    or the phones (which the follow itself loses in the same erasure)."""
    erased = RemarkPush.objects.filter(follow__customer_id=customer_id).update(
        remark="", description="", mobiles_encrypted=[], error=""
    )
    return {"remark_pushes": erased}
