"""Welcome-message templates (欢迎语模板) as the content channels sends with a WelcomeCode.

channels must not import campaigns (docs/architecture.md#layers), so campaigns registers
:func:`welcome_provider` with ``channels.registry`` in ``CampaignsConfig.ready()``; channels' WeCom
handler asks it first for the scanned 渠道活码, and again with no 活码 for the default template.

A template may carry a new-friend coupon (``Campaign.coupon_template``, offers): the text gets the
link of a coupon whose token is drawn now, and once WeCom accepted the welcome and the customer is
stored, ``after_send`` issues that coupon to them (stock and the per-customer limit permitting).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from campaigns.selectors import welcome_template_for
from channels.registry import WelcomeContent
from offers import services as offers

if TYPE_CHECKING:
    from campaigns.models import Campaign
    from channels.models import ChannelAccount, ContactWay
    from contacts.models import Customer

log = logging.getLogger(__name__)


def welcome_provider(*, account: ChannelAccount, contact_way: ContactWay | None) -> WelcomeContent | None:
    template = welcome_template_for(
        organization_id=account.organization_id,
        account_id=account.pk,
        contact_way_id=contact_way.pk if contact_way is not None else None,
    )
    if template is None:
        return None
    # Attachments were validated against WeCom's limits when the template was created (campaigns.content).
    content = WelcomeContent(
        text=template.text, attachments=list(template.attachments or []), source=f"welcome template {template.pk}"
    )
    coupon = template.coupon_template
    # Promise a coupon only while there is one to give (the issue itself is held by the database).
    if coupon is None or not coupon.is_active or coupon.remaining <= 0:
        return content
    token = offers.new_token()
    line = _("🎁 新好友专享：%(name)s（%(benefit)s），点击领取：%(url)s") % {
        "name": coupon.name,
        "benefit": coupon.benefit,
        "url": offers.coupon_link(token),
    }
    text = f"{template.text.rstrip()}\n\n{line}" if template.text.strip() else line

    def issue(customer: Customer) -> None:
        _issue_new_friend_coupon(template, customer, token)

    return WelcomeContent(text=text, attachments=content.attachments, source=content.source, after_send=issue)


def _issue_new_friend_coupon(template: Campaign, customer: Customer, token: str) -> None:
    assert template.coupon_template is not None  # noqa: S101 - only set when the template has one
    try:
        offers.coupon_issue(
            template=template.coupon_template,
            customer=customer,
            source="welcome",
            campaign_id=template.pk,
            token=token,
        )
    except offers.CouponError as exc:
        log.warning("new-friend coupon of welcome template %s not issued: %s", template.pk, exc)
