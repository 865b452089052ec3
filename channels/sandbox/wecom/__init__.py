"""A local fake of WeCom's 客户联系 API and its callback sender (docs/platforms.md#sandbox-wecom).

State is in memory, one :class:`Corp` per corp id. Served over real HTTP (``/cgi-bin/...``) plus a
JSON control API (``POST /sandbox/wecom/<method>`` with keyword arguments) that tests and the demo
use to play users: seed members and customers, scan a 渠道活码, delete a friend, confirm a group
send, set rate limits, inject errors, hold/reorder/drop callbacks.

Faithful where it matters to us: token lifetime and 40014/42001/41001, per-(corp, api) frequency
(45009, blocking for the rest of the window) and concurrency (45033) limits, ``state`` ≤ 30 chars,
welcome codes valid 20 s and once (41051), add_msg_template limits and tasks that wait for the
member's confirmation, per-customer receive caps (status 3), remind ≤ 3 per 24 h, Moments jobs
(tag visibility, seeded likes/comments), media uploads and media-id checks on every attachment
(40004–40011, 40007; ``media.py``), 入群欢迎语 templates, transfers, and callbacks encrypted and
signed with the production WXBizMsgCrypt.
"""

from channels.sandbox.wecom.api import WeComFake
from channels.sandbox.wecom.state import ApiError, Corp, ExternalContact, FollowInfo, GroupSend

__all__ = ["ApiError", "Corp", "ExternalContact", "FollowInfo", "GroupSend", "WeComFake"]
