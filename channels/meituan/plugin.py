"""How Meituan plugs into the account console: no webhook (redemptions are made from our page and
history is polled by ``channels.meituan.tasks``); the connection test reads today's redemption history.

Credentials ``{developer_id, sign_key, app_auth_token}``; ``external_id`` = the Meituan shop id. One
authorization is one shop, so the account needs its store: the redemption page finds it by store.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy

from channels.meituan.client import MeituanError
from channels.meituan.services import meituan_client
from channels.models import ChannelAccount, ChannelPlatform
from channels.registry import AccountSpec, Plugin, register


def connection_test(account: ChannelAccount) -> tuple[bool, str]:
    try:
        meituan_client(account).query_list_by_date(date=timezone.localdate().isoformat(), limit=1)
    except MeituanError as exc:
        return False, exc.hint
    return True, "连接成功：美团验券记录接口可用"


def ready() -> None:
    register(
        Plugin(
            platform=ChannelPlatform.MEITUAN,
            connection_test=connection_test,
            account=AccountSpec(
                external_id_label=gettext_lazy("美团门店 ID"),
                secrets=(
                    ("developer_id", gettext_lazy("开发者 ID（developerId）")),
                    ("sign_key", gettext_lazy("SignKey")),
                    ("app_auth_token", gettext_lazy("门店授权 appAuthToken")),
                ),
                store_help=gettext_lazy("一个美团授权对应一家门店：核销页按门店找到它"),
            ),
        )
    )
