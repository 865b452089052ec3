"""Welcome-message templates (欢迎语模板) as the content channels sends with a WelcomeCode.

channels must not import campaigns (docs/architecture.md#layers), so campaigns registers
:func:`welcome_provider` with ``channels.registry`` in ``CampaignsConfig.ready()``; channels' WeCom
handler asks it first for the scanned 渠道活码, and again with no 活码 for the default template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from campaigns.selectors import welcome_template_for
from channels.registry import WelcomeContent

if TYPE_CHECKING:
    from channels.models import ChannelAccount, ContactWay


def welcome_provider(*, account: ChannelAccount, contact_way: ContactWay | None) -> WelcomeContent | None:
    template = welcome_template_for(
        organization_id=account.organization_id,
        account_id=account.pk,
        contact_way_id=contact_way.pk if contact_way is not None else None,
    )
    if template is None:
        return None
    # Attachments were validated against WeCom's limits when the template was created (campaigns.content).
    return WelcomeContent(
        text=template.text, attachments=list(template.attachments or []), source=f"welcome template {template.pk}"
    )
