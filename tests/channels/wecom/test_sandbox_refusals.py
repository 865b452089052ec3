"""The WeCom sandbox refuses what WeCom refuses, with WeCom's codes (docs/platforms.md#wecom-corp-tags,
#wecom-remarks, #wecom-group-handover)."""

from __future__ import annotations

import pytest

from channels.errors import PlatformError
from channels.wecom.client import WeComClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(wecom_sandbox, world):
    wecom_sandbox.add_member("zhangsan", "张三")
    wecom_sandbox.add_member("lisi", "李四")
    return WeComClient.for_account(wecom_sandbox.connect(world.org))


def refused(call, *args, **kwargs) -> int:
    with pytest.raises(PlatformError) as exc:
        call(*args, **kwargs)
    return exc.value.code


def tag_names(client):
    return sorted((g["group_name"], t["name"]) for g in client.corp_tag_list() for t in g["tag"])


def test_corp_tags_refused_like_wecom(client):
    created = client.add_corp_tag(group_name="兴趣", tags=["护肤"])
    group_id, tag_id = created["group_id"], created["tag"][0]["id"]
    post = client.post
    assert refused(post, "externalcontact/add_corp_tag", {"group_id": group_id, "tag": [{"name": "护肤"}]}) == 40071
    assert refused(post, "externalcontact/add_corp_tag", {"group_name": "兴趣", "tag": [{"name": "护肤"}]}) == 40071
    assert refused(post, "externalcontact/add_corp_tag", {"group_id": group_id, "tag": [{"name": "长" * 31}]}) == 40072
    assert refused(post, "externalcontact/add_corp_tag", {"group_name": "组" * 31, "tag": [{"name": "a"}]}) == 40072
    assert refused(post, "externalcontact/add_corp_tag", {"group_id": group_id, "tag": [{"name": " "}]}) == 40072
    assert refused(post, "externalcontact/add_corp_tag", {"group_name": "空组", "tag": []}) == 40058
    assert refused(post, "externalcontact/add_corp_tag", {"group_id": "etnope", "tag": [{"name": "a"}]}) == 40068
    # 30 characters is still fine
    client.add_corp_tag(group_name="兴趣", tags=["长" * 30])
    client.add_corp_tag(group_name="来源", tags=["抖音"])
    assert refused(post, "externalcontact/edit_corp_tag", {"id": "etnope", "name": "x"}) == 40068
    assert refused(post, "externalcontact/edit_corp_tag", {"id": tag_id, "name": "长" * 30}) == 40071
    assert refused(post, "externalcontact/edit_corp_tag", {"id": group_id, "name": "来源"}) == 40071
    assert refused(post, "externalcontact/edit_corp_tag", {"id": tag_id, "name": "长" * 31}) == 40072
    assert refused(post, "externalcontact/edit_corp_tag", {"id": tag_id, "order": -1}) == 40058
    assert refused(post, "externalcontact/del_corp_tag", {"tag_id": ["etnope"]}) == 40068
    assert tag_names(client) == sorted([("来源", "抖音"), ("兴趣", "护肤"), ("兴趣", "长" * 30)])  # nothing changed


def test_the_tag_list_puts_a_larger_order_first_and_an_emptied_group_goes(client):
    low = client.add_corp_tag(group_name="低", tags=["a"])
    high = client.add_corp_tag(group_name="高", tags=["b", "c"])
    client.post("externalcontact/edit_corp_tag", {"id": high["group_id"], "order": 10})
    client.post("externalcontact/edit_corp_tag", {"id": high["tag"][1]["id"], "order": 5})
    groups = client.corp_tag_list()
    assert [g["group_name"] for g in groups] == ["高", "低"]
    assert [t["name"] for t in groups[0]["tag"]] == ["c", "b"]
    client.post("externalcontact/del_corp_tag", {"tag_id": [low["tag"][0]["id"]]})
    assert [g["group_name"] for g in client.corp_tag_list()] == ["高"]


def test_a_remark_over_20_characters_is_refused_with_40058_and_nothing_changes(client, wecom_sandbox):
    ext = wecom_sandbox.seed_customer("zhangsan", name="甲")
    body = {"userid": "zhangsan", "external_userid": ext}
    client.post("externalcontact/remark", {**body, "remark": "二" * 20})
    assert refused(client.post, "externalcontact/remark", {**body, "remark": "二" * 21}) == 40058
    assert wecom_sandbox.snapshot()["customers"][ext]["follows"]["zhangsan"]["remark"] == "二" * 20


def test_group_handover_refusals(client, wecom_sandbox):
    ext = wecom_sandbox.seed_customer("zhangsan", name="甲")
    chat = wecom_sandbox.create_group("zhangsan", name="福利群", members=[ext])
    transfer, onjob = "externalcontact/groupchat/transfer", "externalcontact/groupchat/onjob_transfer"
    assert refused(client.post, onjob, {"chat_id_list": [], "new_owner": "lisi"}) == 40058
    assert refused(client.post, onjob, {"chat_id_list": [f"wr{i}" for i in range(101)], "new_owner": "lisi"}) == 40058
    assert refused(client.post, onjob, {"chat_id_list": [chat], "new_owner": "nobody"}) == 46004

    def failed(path, owner="lisi", chats=(chat,)):
        data = client.post(path, {"chat_id_list": list(chats), "new_owner": owner})
        return {row["chat_id"]: row["errcode"] for row in data["failed_chat_list"]}

    assert failed(transfer) == {chat: 90500}  # the owner has not resigned
    assert failed(onjob, owner="zhangsan") == {chat: 90504}  # no change
    assert failed(onjob, chats=(chat, "wrnope")) == {"wrnope": 40050}
    assert wecom_sandbox.snapshot()["groups"][chat]["owner"] == "lisi"
    wecom_sandbox.resign_member("lisi")
    assert failed(onjob, owner="zhangsan") == {chat: 90502}  # the owner has resigned
    listed = client.post("externalcontact/groupchat/list", {"status_filter": 1, "limit": 100})["group_chat_list"]
    assert listed == [{"chat_id": chat, "status": 1}]  # 离职待继承
    assert failed(transfer, owner="zhangsan") == {}
    assert failed(transfer, owner="zhangsan") == {chat: 90508}  # already handed over
