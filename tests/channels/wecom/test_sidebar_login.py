"""Signing in from inside WeCom (网页授权 through the sandbox) and the JS-SDK signatures of the sidebar."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from channels.wecom import jssdk
from contacts.models import Staff
from contacts.services import staff_depart

SIDEBAR = "/sidebar/"


@pytest.fixture
def account(wecom_sandbox, world):
    wecom_sandbox.add_member("zhangsan", "张三")
    return wecom_sandbox.connect(world.org)


def start(client, account, next_url=SIDEBAR):
    response = client.get(reverse("channels:wecom_login", args=[account.hook_key]), {"next": next_url})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    return target, parse_qs(target.query)


def test_the_signature_is_wechats_official_example() -> None:
    # The worked example of WeChat's JS-SDK signature algorithm (附录1-JS-SDK使用权限签名算法).
    assert (
        jssdk.signature(
            ticket="sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            nonce="Wm3WZYTPz0wzccnW",
            timestamp=1414587457,
            url="http://mp.weixin.qq.com?params=value#fragment-is-not-signed",
        )
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_a_member_opening_the_sidebar_in_wecom_is_signed_in_as_their_staff(client, account, wecom_sandbox, world):
    target, query = start(client, account)
    # WeCom's 网页授权 URL (here the sandbox's), silent scope, back to our callback.
    assert f"{target.scheme}://{target.netloc}" == wecom_sandbox.base_url and target.path == "/connect/oauth2/authorize"
    assert query["appid"] == [wecom_sandbox.corp_id] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"][0].endswith(reverse("channels:wecom_login_done", args=[account.hook_key]))
    assert response_follows_sidebar(client, account, query["state"][0], wecom_sandbox.oauth_code("zhangsan"))
    staff = Staff.objects.get(organization=world.org, wecom_userid="zhangsan")  # met here for the first time
    assert staff.user is not None and staff.user.groups.filter(name="store_staff").exists()
    assert not staff.user.has_usable_password()
    assert client.get(SIDEBAR).status_code == 200


def response_follows_sidebar(client, account, state, code) -> bool:
    done = reverse("channels:wecom_login_done", args=[account.hook_key])
    response = client.get(done, {"code": code, "state": state})
    return response.status_code == 302 and response["Location"] == SIDEBAR


def test_the_sandbox_authorize_page_lets_the_demo_pick_a_member(client, account, wecom_sandbox):
    target, query = start(client, account)
    page = requests.get(f"{wecom_sandbox.base_url}{target.path}", params={k: v[0] for k, v in query.items()}, timeout=5)
    assert "张三（zhangsan）" in page.text
    link = page.text.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    callback = urlsplit(link)
    response = client.get(callback.path, {k: v[0] for k, v in parse_qs(callback.query).items()})
    assert response.status_code == 302 and client.get(SIDEBAR).status_code == 200


def test_forged_reused_or_foreign_logins_are_refused(client, account, wecom_sandbox, world):
    done = reverse("channels:wecom_login_done", args=[account.hook_key])
    # A state that is not this session's: refused, nobody signed in.
    _target, query = start(client, account)
    forged = client.get(done, {"code": wecom_sandbox.oauth_code("zhangsan"), "state": "forged"})
    assert forged.status_code == 400 and "登录链接已失效" in forged.content.decode()
    assert client.get(SIDEBAR).status_code == 302  # still signed out: off to the login page
    # A code WeCom no longer accepts (used, or older than 5 minutes): 40029, refused.
    _target, query = start(client, account)
    code = wecom_sandbox.oauth_code("zhangsan")
    assert response_follows_sidebar(client, account, query["state"][0], code)
    client.logout()
    _target, query = start(client, account)
    reused = client.get(done, {"code": code, "state": query["state"][0]})
    assert reused.status_code == 400 and "40029" in reused.content.decode()
    # Someone who is not a member of the corp.
    _target, query = start(client, account)
    outsider = client.get(done, {"code": wecom_sandbox.oauth_code("a-wechat-user"), "state": query["state"][0]})
    assert outsider.status_code == 403 and "只有企业成员" in outsider.content.decode()
    # A departed member.
    staff_depart(staff=Staff.objects.get(organization=world.org, wecom_userid="zhangsan"))
    _target, query = start(client, account)
    departed = client.get(done, {"code": wecom_sandbox.oauth_code("zhangsan"), "state": query["state"][0]})
    assert departed.status_code == 403 and "已离职" in departed.content.decode()
    assert client.get(SIDEBAR).status_code == 302


def test_next_never_leaves_the_site(client, account, wecom_sandbox):
    _target, query = start(client, account, next_url="https://evil.example/steal")
    assert response_follows_sidebar(client, account, query["state"][0], wecom_sandbox.oauth_code("zhangsan"))


def test_the_sidebar_gets_both_jssdk_signatures_for_its_own_pages(client, account, wecom_sandbox, world):
    assert client.get(reverse("channels:wecom_jssdk"), {"url": "http://testserver/sidebar/"}).status_code == 302
    client = world.client_for(world.store_staff)
    page = "http://testserver/sidebar/"
    body = client.get(reverse("channels:wecom_jssdk"), {"url": page + "#x"}).json()
    tickets = wecom_sandbox.fake.corp(wecom_sandbox.corp_id).tickets
    assert body["corpId"] == wecom_sandbox.corp_id and "getCurExternalContact" in body["jsApiList"]
    for part, kind in (("config", "corp"), ("agentConfig", "agent")):
        signed = body[part]
        plain = f"jsapi_ticket={tickets[kind]}&noncestr={signed['nonceStr']}&timestamp={signed['timestamp']}&url={page}"
        assert signed["signature"] == hashlib.sha1(plain.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm
    assert tickets["corp"] != tickets["agent"]
    # Tickets are cached: a second page does not fetch them again.
    fetched = [api for api, _params in wecom_sandbox.fake.calls if api in ("get_jsapi_ticket", "ticket/get")]
    client.get(reverse("channels:wecom_jssdk"), {"url": "http://testserver/sidebar/?q=1"})
    again = [api for api, _params in wecom_sandbox.fake.calls if api in ("get_jsapi_ticket", "ticket/get")]
    assert again == fetched
    # Only this site's pages are signed (and only for signed-in staff, checked first).
    foreign = client.get(reverse("channels:wecom_jssdk"), {"url": "https://evil.example/"})
    assert foreign.status_code == 400
