"""任务宝 pages, API, scope, poster and privacy: owner / same-brand user without the right / outsider."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from contacts.models import Identity, Platform, Role, Segment
from contacts.services.privacy import customer_erase, customer_personal_data
from referrals.models import FriendStatus, ReferralCampaign, ReferralFriend, ReferralParticipant
from referrals.services import (
    ReferralError,
    poster_link,
    poster_signed,
    referral_code_ensure,
    referral_participant_enrol,
    referral_participants_enrol_segment,
)
from tests.factories import CustomerFactory, StaffFactory, UserFactory
from tests.referrals.conftest import make_campaign
from todos.models import Todo

pytestmark = pytest.mark.django_db

PHONE = "13812345678"


def friends(participant: ReferralParticipant, n: int, status: str, *, staff, start: int = 0) -> None:
    for i in range(start, start + n):
        friend = CustomerFactory(organization=participant.organization, name=f"好友{participant.pk}-{i}")
        ReferralFriend.objects.create(
            organization_id=participant.organization_id,
            campaign=participant.campaign,
            participant=participant,
            friend=friend,
            staff=staff,
            store=staff.store,
            added_at=timezone.now() - dt.timedelta(days=2),
            status=status,
        )


def enrol(campaign, customer, by):
    return referral_participant_enrol(campaign=campaign, customer=customer, by=by)[0]


def test_the_leaderboard_ranks_by_valid_friends_with_staff_and_store_attribution(setup, world):
    campaign = make_campaign(setup, world, goal=3)
    a = enrol(campaign, CustomerFactory(organization=world.org, home_store=world.store_a, name="甲客"), setup.guide_a)
    b = enrol(campaign, CustomerFactory(organization=world.org, home_store=world.store_b, name="乙客"), setup.guide_b)
    friends(a, 1, FriendStatus.VALID, staff=setup.guide_a)
    friends(a, 2, FriendStatus.CHURNED, staff=setup.guide_a, start=1)
    friends(b, 2, FriendStatus.VALID, staff=setup.guide_b)
    friends(b, 1, FriendStatus.PENDING, staff=setup.guide_a, start=2)
    client = world.client_for(world.operator)
    page = client.get(f"/referrals/{campaign.pk}/").content.decode()
    assert page.index("乙客") < page.index("甲客")  # 2 valid before 1 valid (churned do not count)
    assert "导购B · B店 ×2" in page and "导购A · A店 ×1" in page
    # store filter
    only_a = client.get(f"/referrals/{campaign.pk}/", {"store": world.store_a.pk}).content.decode()
    assert "甲客" in only_a and "乙客" not in only_a
    csv = b"".join(client.get(f"/referrals/{campaign.pk}/leaderboard.csv").streaming_content).decode("utf-8-sig")
    lines = csv.strip().splitlines()
    assert lines[1].startswith("1,乙客,B店,导购B,2,1,0,0") and lines[2].startswith("2,甲客,A店,导购A,1,0,2,0")
    # the manager of store A sees store A's participants only
    board = world.client_for(world.manager).get(f"/referrals/{campaign.pk}/").content.decode()
    assert "甲客" in board and "乙客" not in board


def test_the_leaderboard_query_count_does_not_grow_with_participants(setup, world, django_assert_max_num_queries):
    campaign = make_campaign(setup, world)
    for i in range(15):
        p = enrol(campaign, CustomerFactory(organization=world.org, home_store=world.store_a), setup.guide_a)
        friends(p, 1, FriendStatus.VALID, staff=setup.guide_a, start=i)
    client = world.client_for(world.operator)
    with django_assert_max_num_queries(20):
        assert client.get(f"/referrals/{campaign.pk}/").status_code == 200


def test_scope_another_brand_and_another_store_cannot_see_or_enrol(setup, world):
    shop_a = make_campaign(setup, world, store=world.store_a, name="A店任务宝")
    customer_b = CustomerFactory(organization=world.org, home_store=world.store_b, name="B店客")
    customer_a = CustomerFactory(organization=world.org, home_store=world.store_a, name="A店客")
    outsider = world.client_for(world.outsider)
    assert outsider.get(f"/referrals/{shop_a.pk}/").status_code == 404
    assert outsider.get("/api/v1/referrals/campaigns/").json()["results"] == []
    assert (
        outsider.post(
            f"/api/v1/referrals/campaigns/{shop_a.pk}/participants/", {"customer_id": customer_a.pk}
        ).status_code
        == 404
    )
    # a clerk of store B: store A's campaign is invisible; store A's customer cannot be enrolled
    clerk_b = StaffFactory(
        organization=world.org, store=world.store_b, user=UserFactory(username="clerkb", role=Role.STORE_STAFF)
    )
    c = world.client_for(clerk_b)
    assert (
        c.post(f"/api/v1/referrals/campaigns/{shop_a.pk}/participants/", {"customer_id": customer_b.pk}).status_code
        == 404
    )
    assert c.post(f"/customers/{customer_b.pk}/referrals/enrol/", {"campaign_id": shop_a.pk}).status_code == 404
    brand = make_campaign(setup, world, name="全品牌任务宝")
    refused = c.post(f"/api/v1/referrals/campaigns/{brand.pk}/participants/", {"customer_id": customer_a.pk})
    assert refused.status_code == 400 and "customer_id" in refused.json()
    assert not ReferralParticipant.objects.exists()
    # the store A clerk enrols their own customer in the brand-wide campaign
    ok = world.client_for(world.store_staff).post(
        f"/api/v1/referrals/campaigns/{brand.pk}/participants/", {"customer_id": customer_a.pk}
    )
    assert ok.status_code == 201, ok.content
    body = ok.json()
    assert body["customer_id"] == customer_a.pk and body["goal"] == 2 and "/r/" in body["poster_url"]
    again = world.client_for(world.store_staff).post(
        f"/api/v1/referrals/campaigns/{brand.pk}/participants/", {"customer_id": customer_a.pk}
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    progress = world.client_for(world.store_staff).get(f"/api/v1/referrals/participants/{body['id']}/")
    assert progress.status_code == 200 and progress.json()["valid"] == 0
    assert outsider.get(f"/api/v1/referrals/participants/{body['id']}/").status_code == 404
    assert c.get(f"/api/v1/referrals/participants/{body['id']}/").status_code == 404
    # store staff do not open the campaign pages; only operators create
    assert world.client_for(world.store_staff).get(f"/referrals/{brand.pk}/").status_code == 403
    assert world.client_for(world.manager).get("/referrals/new/").status_code == 403


def test_the_poster_is_a_signed_link_with_the_qr_progress_and_no_phone(setup, world, wecom_sandbox):
    campaign = make_campaign(setup, world)
    customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="海报客", phone=PHONE)
    participant = enrol(campaign, customer, setup.guide_a)
    assert participant.contact_way is None  # lazily: made on the first view
    friends(participant, 1, FriendStatus.VALID, staff=setup.guide_a)
    friends(participant, 1, FriendStatus.PENDING, staff=setup.guide_a, start=1)
    link = poster_link(participant.token)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = Client().get("/" + path)
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="referral-qr"' in html
    participant.refresh_from_db()
    assert participant.contact_way is not None and participant.contact_way.qr_code in html
    assert "1 / 2" in html and PHONE not in html and PHONE[-4:] not in html
    assert response["X-Robots-Tag"] == "noindex"
    # a forged or tampered link opens nothing
    assert Client().get(f"/r/{participant.token}/").status_code == 404
    assert Client().get(f"/r/{poster_signed(participant.token)[:-1]}x/").status_code == 404


def test_enrolment_refuses_a_campaign_not_running_and_segment_enrolment_is_one_statement(setup, world):
    draft = make_campaign(setup, world, start=False)
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    with pytest.raises(ReferralError):
        referral_participant_enrol(campaign=draft, customer=customer, by=setup.guide_a)
    running = make_campaign(setup, world)
    for _ in range(3):
        CustomerFactory(organization=world.org, home_store=world.store_a)
    segment = Segment.objects.create(organization=world.org, name="全部", expression={})
    n = referral_participants_enrol_segment(campaign=running, segment=segment, store_ids=None, by=world.operator)
    assert n == 4 and ReferralParticipant.objects.filter(campaign=running).count() == 4
    assert referral_participants_enrol_segment(campaign=running, segment=segment, store_ids=None, by=None) == 0


def test_the_console_creates_starts_and_ends_a_campaign(setup, world, wecom_sandbox):
    client = world.client_for(world.operator)
    assert client.get("/referrals/new/").status_code == 200
    data = {
        "name": "双十二老带新",
        "account": setup.account.pk,
        "staff": [setup.guide_a.pk],
        "goal": "3",
        "reward": setup.reward.pk,
        "starts_at": "2026-12-01T00:00",
        "ends_at": "2030-12-31T23:59",
        "poster_text": "邀请 3 位好友得 10 元券",
    }
    bad = client.post("/referrals/new/", {**data, "ends_at": "2026-11-30T00:00"})
    assert bad.status_code == 400 and not ReferralCampaign.objects.exists()
    response = client.post("/referrals/new/", data)
    assert response.status_code == 302
    campaign = ReferralCampaign.objects.get()
    assert campaign.starts_at == dt.datetime(2026, 12, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Beijing
    client.post(f"/referrals/{campaign.pk}/status/", {"action": "start"})
    campaign.refresh_from_db()
    assert campaign.status == "running"
    p = enrol(campaign, CustomerFactory(organization=world.org, home_store=world.store_a), setup.guide_a)
    way = referral_code_ensure(participant=p)
    assert way is not None and way.config_id in wecom_sandbox.fake.corp(wecom_sandbox.corp_id).contact_ways
    assert Todo.objects.filter(source_key=f"referral-poster:{p.pk}", assignee=setup.guide_a).exists()
    client.post(f"/referrals/{campaign.pk}/status/", {"action": "end"})
    campaign.refresh_from_db()
    assert campaign.status == "ended"
    assert way.config_id not in wecom_sandbox.fake.corp(wecom_sandbox.corp_id).contact_ways
    assert "双十二老带新" in client.get("/referrals/").content.decode()


def test_the_profile_enrols_the_customer_and_shows_the_poster_link(setup, world, wecom_sandbox):
    campaign = make_campaign(setup, world, name="资料页任务宝")
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    client = world.client_for(world.store_staff)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="referral-enrol-form"' in page and "资料页任务宝" in page
    response = client.post(f"/customers/{customer.pk}/referrals/enrol/", {"campaign_id": campaign.pk})
    assert response.status_code == 302
    participant = ReferralParticipant.objects.get()
    assert participant.contact_way is not None and participant.contact_way.config_id
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "/r/" in page and 'data-testid="referral-joined"' in page


def test_the_sidebar_enrols_the_customer_in_the_chat_and_comes_back_to_them(setup, world, wecom_sandbox):
    campaign = make_campaign(setup, world, name="侧边栏任务宝")
    customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="聊天中的客户")
    Identity.objects.create(organization=world.org, customer=customer, platform=Platform.WECOM, external_id="wm_chat")
    client = world.client_for(world.store_staff)
    back = "/sidebar/?external_userid=wm_chat"
    page = client.get(back).content.decode()
    assert 'data-testid="referral-enrol-form"' in page and "侧边栏任务宝" in page
    assert f'name="next" value="{back}"' in page
    response = client.post(f"/customers/{customer.pk}/referrals/enrol/", {"campaign_id": campaign.pk, "next": back})
    assert response.status_code == 302 and response["Location"] == back
    participant = ReferralParticipant.objects.get(customer=customer)
    assert participant.campaign == campaign and participant.contact_way is not None
    page = client.get(back).content.decode()
    assert 'data-testid="referral-joined"' in page and "/r/" in page and 'data-testid="referral-enrol-form"' not in page
    # Another store's clerk does not see the customer, let alone the form.
    other = CustomerFactory(organization=world.org, home_store=world.store_b)
    Identity.objects.create(organization=world.org, customer=other, platform=Platform.WECOM, external_id="wm_b")
    refused = client.get("/sidebar/?external_userid=wm_b")
    assert refused.status_code == 404 and "referral-enrol-form" not in refused.content.decode()


def test_export_and_erasure_cover_participants_and_friends(setup, world, wecom_sandbox):
    campaign = make_campaign(setup, world)
    customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="要删除的人")
    participant = enrol(campaign, customer, setup.guide_a)
    friends(participant, 1, FriendStatus.VALID, staff=setup.guide_a)
    friend = ReferralFriend.objects.get().friend
    old_path = "/" + poster_link(participant.token).split("://", 1)[1].split("/", 1)[1]
    assert Client().get(old_path).status_code == 200
    exported = customer_personal_data(customer=customer, by=world.operator)["referrals"]
    assert exported[0]["role"] == "participant" and exported[0]["friends_valid"] == 1
    assert customer_personal_data(customer=friend, by=world.operator)["referrals"][0]["role"] == "friend"
    record = customer_erase(customer=customer, by=world.operator, reason="客户本人要求删除")
    assert record.details["referral_participants"] == 1
    assert Client().get(old_path).status_code == 404  # the old link opens nothing
    participant.refresh_from_db()
    assert participant.erased_at is not None
    assert "要删除的人" not in (participant.contact_way.name if participant.contact_way else "")
