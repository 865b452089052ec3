"""Mirror our database into a running WeCom sandbox (demo only): the fake keeps its state in memory,
so after each sandbox start this makes it know the demo's members, customers, groups and 活码 again —
otherwise a full sync would find an empty corp and end every follow.

Talks to the sandbox's control API (``POST <api_base>/sandbox/wecom/<method>``) over loopback.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from channels.models import AcquisitionLink, ChannelAccount, ContactWay, ContactWayKind
from channels.selectors import callback_url
from channels.wecom.acquisition import acquisition_link_push
from channels.wecom.contact_ways import contact_way_push
from contacts.models import CustomerGroup, Follow, Identity, Platform, Staff

log = logging.getLogger(__name__)


class SandboxUnavailable(RuntimeError):
    pass


def _control(account: ChannelAccount, method: str, timeout: float, **kwargs: Any) -> Any:
    url = f"{account.api_base.rstrip('/')}/sandbox/wecom/{method}"
    try:
        response = requests.post(url, json=kwargs, timeout=timeout)
    except requests.RequestException as exc:
        raise SandboxUnavailable(f"the WeCom sandbox at {account.api_base} is not reachable") from exc
    if response.status_code != 200:
        raise SandboxUnavailable(f"sandbox {method}: HTTP {response.status_code} {response.text[:200]}")
    return response.json().get("result")


def sandbox_scan(*, way: ContactWay) -> dict[str, Any]:
    """Demo: a WeChat user scans ``way`` in the sandbox; the add arrives through the real callback."""
    import random

    name = random.choice("王李张刘陈杨黄赵吴周") + random.choice(["小雨", "晓明", "佳怡", "子涵", "一诺"])  # noqa: S311
    return dict(_control(way.account, "scan", 5.0, corp_id=way.account.external_id, state=way.state, name=name))


def sandbox_open_link(*, link: AcquisitionLink, customer_channel: str) -> dict[str, Any]:
    """Demo: a WeChat user taps the 获客链接 with this customer_channel, chats and adds a member."""
    import random

    name = random.choice("王李张刘陈杨黄赵吴周") + random.choice(["小雨", "晓明", "佳怡", "子涵", "一诺"])  # noqa: S311
    return dict(
        _control(link.account, "open_link", 5.0, corp_id=link.account.external_id, link_id=link.link_id,
                 customer_channel=customer_channel, name=name)
    )  # fmt: skip


def seed_sandbox(*, account: ChannelAccount, timeout: float = 30.0) -> dict[str, Any]:
    """Load the account's corp into the sandbox and re-create its 活码 there. Idempotent."""
    creds = account.credentials()
    _control(
        account, "add_corp", 3.0, corp_id=account.external_id, secret=creds.get("secret", ""),
        token=creds.get("token", ""), aes_key=creds.get("aes_key", ""), callback_url=callback_url(account),
    )  # fmt: skip
    org_id = account.organization_id
    members = [
        {"userid": s.wecom_userid, "name": s.name, "status": 1 if s.is_active else 5}
        for s in Staff.objects.filter(organization_id=org_id).exclude(wecom_userid="")
    ]
    ext_by_customer = dict(
        Identity.objects.filter(
            organization_id=org_id, platform=Platform.WECOM, account=account.external_id
        ).values_list("customer_id", "external_id")
    )
    customers: dict[str, dict[str, Any]] = {}
    follows = Follow.objects.filter(organization_id=org_id, deleted_at__isnull=True, customer_id__in=ext_by_customer)
    for follow in follows.select_related("staff", "customer").exclude(staff__wecom_userid="").iterator(chunk_size=2000):
        ext = ext_by_customer[follow.customer_id]
        row = customers.setdefault(
            ext,
            {"external_userid": ext, "name": follow.customer.name, "unionid": follow.customer.unionid, "follows": []},
        )
        row["follows"].append(
            {"userid": follow.staff.wecom_userid, "createtime": int(follow.added_at.timestamp()), "state": follow.state,
             "add_way": follow.add_way, "remark": follow.remark}
        )  # fmt: skip
    groups = []
    for group in (
        CustomerGroup.objects.filter(organization_id=org_id, dismissed_at__isnull=True)
        .exclude(wecom_chat_id="")
        .select_related("owner")
    ):
        if group.owner is None or not group.owner.wecom_userid:
            continue
        member_ids = [
            ext_by_customer.get(m.customer_id or 0, m.member_id) for m in group.members.filter(left_at__isnull=True)
        ]
        groups.append({"chat_id": group.wecom_chat_id, "name": group.name, "owner": group.owner.wecom_userid,
                       "members": member_ids})  # fmt: skip
    result = _control(account, "seed_bulk", timeout, corp_id=account.external_id, members=members,
                      customers=list(customers.values()), groups=groups)  # fmt: skip
    # 活码 live on WeCom by config_id; a fresh sandbox knows none of them: create them again.
    pushed = 0
    for way in ContactWay.objects.filter(account=account, is_active=True).exclude(kind=ContactWayKind.LINK):
        ContactWay.objects.filter(pk=way.pk).update(config_id="", qr_code="")
        way.config_id = ""
        contact_way_push(way=way)
        pushed += 1
    links = 0  # 获客链接 too: a fresh sandbox has none, so each gets a new link_id and url
    for link in AcquisitionLink.objects.filter(account=account, is_active=True):
        AcquisitionLink.objects.filter(pk=link.pk).update(link_id="", url="")
        link.link_id = ""
        acquisition_link_push(link=link)
        links += 1
    return {**(result or {}), "contact_ways": pushed, "acquisition_links": links}
