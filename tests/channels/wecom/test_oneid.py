"""OneID in practice: a Douyin lead, a Meituan redemption and a WeCom friend with one phone are one
customer; remarks pushed with ``externalcontact/remark`` through the sandbox (accepted, refused, retried)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from channels.leads.events import LeadEvent
from channels.leads.services import lead_ingest
from channels.meituan.adapter import ConsumedVoucher
from channels.meituan.services import redemption_finish
from channels.models import ChannelPlatform, LeadCode, LeadSource, MeituanRedemption, RemarkPush, RemarkStatus
from channels.wecom.contact_ways import contact_way_save
from channels.wecom.lead_codes import lead_code_issue
from channels.wecom.remarks import follow_remark_set, remark_push_run
from channels.wecom.sync import full_sync
from contacts.models import Customer, CustomerMerge, Follow, Staff
from tests.channels.leads.helpers import make_account
from tests.channels.wecom.test_events import Relay

PHONE = "13912345678"


@pytest.fixture
def relay(db, wecom_sandbox, world):
    wecom_sandbox.add_member("guide_a", "导购A")
    account = wecom_sandbox.connect(world.org, default_store=world.store_a)
    return Relay(wecom_sandbox, account)


@pytest.fixture
def store_way(relay, world):
    guide = (
        Staff.objects.get(wecom_userid="guide_a")
        if Staff.objects.filter(wecom_userid="guide_a").exists()
        else (Staff.objects.create(organization=world.org, name="导购A", wecom_userid="guide_a", store=world.store_a))
    )
    way = contact_way_save(account=relay.account, name="抖音投放", channel="douyin", store=world.store_a, staff=[guide])
    type(way).objects.filter(pk=way.pk).update(remark_template="{channel}-{store}")
    way.refresh_from_db()
    return way


def douyin_lead_and_meituan_buyer(world):
    lead, _ = lead_ingest(
        organization=world.org,
        event=LeadEvent(
            source=LeadSource.OCEAN_ENGINE, external_id="clue-1", occurred_at=timezone.now(), name="周女士",
            phone=PHONE, open_id="dy-open-1", platform_account="adv-1",
        ),
    )  # fmt: skip
    meituan = make_account(world.org, ChannelPlatform.MEITUAN, external_id="shop-a", store=world.store_a)
    redemption = MeituanRedemption.objects.create(
        organization=world.org, account=meituan, store=world.store_a, request_id=uuid.uuid4().hex,
        receipt_code="912345678901",
    )  # fmt: skip
    redemption = redemption_finish(
        redemption_id=redemption.pk,
        consumed=ConsumedVoucher(
            receipt_code="912345678901", order_id="mt-o-1", deal_id="600001", deal_title="双人下午茶套餐",
            amount=Decimal("88.00"), count=1, mobile_masked="139****5678", consumed_at=timezone.now(),
        ),
        phone=PHONE,
    )  # fmt: skip
    assert redemption.customer_id == lead.customer_id
    return lead, redemption


def platforms(customer: Customer) -> list[str]:
    return sorted(customer.identities.values_list("platform", flat=True))


def test_an_add_through_the_leads_own_code_joins_lead_buyer_and_friend(
    relay, store_way, wecom_sandbox, world, django_capture_on_commit_callbacks
):
    lead, _redemption = douyin_lead_and_meituan_buyer(world)
    code = lead_code_issue(base=store_way, customer=lead.customer, lead=lead)
    assert code is not None and code.qr_code and code.state.startswith(f"ld{lead.pk}_") and len(code.state) <= 30

    ext = wecom_sandbox.scan(state=code.state, name="微信周")["external_userid"]
    with django_capture_on_commit_callbacks(execute=True):  # the code is deleted on WeCom after commit
        relay()

    assert Customer.objects.filter(organization=world.org).count() == 1
    customer = Customer.objects.get(organization=world.org)
    assert platforms(customer) == ["douyin", "meituan", "wecom"]
    merge = CustomerMerge.objects.get(survivor=customer)
    assert merge.matched_keys == ["lead_code"] and code.state in merge.reason
    assert LeadCode.objects.get(lead=lead).joined_at is not None
    # The code did its job: deleted on WeCom.
    code.refresh_from_db()
    assert not code.is_active and code.config_id == ""
    # The merge audit is on the profile.
    page = world.client_for(world.operator).get(f"/customers/{customer.pk}/").content.decode()
    assert "合并记录" in page and "活码线索" in page
    # Auto-remark from the 活码's template, recorded then pushed.
    push = RemarkPush.objects.get(source="contact_way")
    assert push.remark == "抖音-A店"
    remark_push_run(push_id=push.pk)
    assert wecom_sandbox.snapshot()["customers"][ext]["follows"]["guide_a"]["remark"] == "抖音-A店"
    assert Follow.objects.get(customer=customer).remark == "抖音-A店"


def test_a_remark_phone_set_in_wecom_joins_the_friend_to_the_lead(relay, store_way, wecom_sandbox, world):
    lead, _redemption = douyin_lead_and_meituan_buyer(world)
    ext = wecom_sandbox.scan(state=store_way.state, name="微信周")["external_userid"]
    relay()
    assert Customer.objects.filter(organization=world.org).count() == 2  # nothing tells us yet

    wecom_sandbox.edit_customer(ext, "guide_a", remark_mobiles=[PHONE])
    relay()

    customer = Customer.objects.get(organization=world.org)
    assert customer.pk == lead.customer_id and platforms(customer) == ["douyin", "meituan", "wecom"]
    merge = CustomerMerge.objects.get(survivor=customer)
    assert merge.matched_keys == ["identity:wecom", "phone"]
    assert Follow.objects.get(customer=customer).remark_phones == [PHONE]
    page = world.client_for(world.operator).get(f"/customers/{customer.pk}/").content.decode()
    assert "合并记录" in page and "手机号" in page


def test_an_add_that_already_carries_remark_mobiles_finds_the_lead(relay, store_way, wecom_sandbox, world):
    lead, _redemption = douyin_lead_and_meituan_buyer(world)
    wecom_sandbox.scan(state=store_way.state, name="微信周", remark_mobiles=[PHONE])
    relay()
    customer = Customer.objects.get(organization=world.org)
    assert customer.pk == lead.customer_id and platforms(customer) == ["douyin", "meituan", "wecom"]


def test_staff_remark_push_accepted_refused_and_retried(relay, store_way, wecom_sandbox, world):
    ext = wecom_sandbox.scan(state=store_way.state, name="微信吴")["external_userid"]
    relay()
    follow = Follow.objects.select_related("staff", "customer").get()
    RemarkPush.objects.all().delete()

    push = follow_remark_set(follow=follow, remark="吴先生-VIP", description="喜欢下午茶", mobiles=[PHONE], by=None)
    assert push.status == RemarkStatus.DONE
    side = wecom_sandbox.snapshot()["customers"][ext]["follows"]["guide_a"]
    assert (side["remark"], side["description"], side["remark_mobiles"]) == ("吴先生-VIP", "喜欢下午茶", [PHONE])
    follow.refresh_from_db()
    assert (follow.remark, follow.remark_phones) == ("吴先生-VIP", [PHONE])

    # Over 20 characters: WeCom refuses with 40058; neither side changes, the member sees why.
    refused = follow_remark_set(follow=follow, remark="备" * 21, description="", mobiles=[], by=None)
    assert refused.status == RemarkStatus.REFUSED and "40058" in refused.error
    too_many = follow_remark_set(
        follow=follow, remark="x", description="", mobiles=[f"1391234567{i}" for i in range(6)], by=None
    )
    assert too_many.status == RemarkStatus.REFUSED and "40058" in too_many.error
    follow.refresh_from_db()
    assert follow.remark == "吴先生-VIP" and follow.remark_phones == [PHONE]
    assert wecom_sandbox.snapshot()["customers"][ext]["follows"]["guide_a"]["remark"] == "吴先生-VIP"

    # A transient error (-1): recorded, left for the retry task, which then succeeds.
    wecom_sandbox.fake.fail_next["externalcontact/remark"] = [-1]
    retry = follow_remark_set(follow=follow, remark="吴先生", description="", mobiles=[PHONE], by=None)
    assert retry.status == RemarkStatus.RETRYING and retry.attempts == 1
    assert remark_push_run(push_id=retry.pk).status == RemarkStatus.DONE

    # Edited in WeCom itself: the full sync brings it here.
    wecom_sandbox.edit_customer(ext, "guide_a", remark="老客户", remark_mobiles=["13800000000"])
    wecom_sandbox.fake.corp(wecom_sandbox.corp_id).outbox.clear()
    full_sync(account=relay.account)
    follow.refresh_from_db()
    assert (follow.remark, follow.remark_phones) == ("老客户", ["13800000000"])
    # Cleared in WeCom: cleared here by the next sync too.
    wecom_sandbox.edit_customer(ext, "guide_a", remark="", description="", remark_mobiles=[])
    wecom_sandbox.fake.corp(wecom_sandbox.corp_id).outbox.clear()
    full_sync(account=relay.account)
    follow.refresh_from_db()
    assert (follow.remark, follow.description, follow.remark_phones) == ("", "", [])


def test_a_form_submission_shows_a_code_of_the_leads_own(relay, store_way, wecom_sandbox, world):
    from channels.models import LeadForm

    LeadForm.objects.create(
        organization=world.org, slug="tea", title="下午茶", store=world.store_a, contact_way=store_way
    )
    response = Client().post("/f/tea/", {"name": "陈女士", "phone": PHONE, "consent": "on"}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 200
    code = LeadCode.objects.select_related("contact_way", "lead").get()
    assert code.lead.customer_id == code.customer_id
    assert code.contact_way.qr_code in response.content.decode() and code.contact_way.qr_code != store_way.qr_code
    wecom_sandbox.scan(state=code.contact_way.state, name="微信陈")
    relay()
    assert Customer.objects.filter(organization=world.org).count() == 1


def test_remark_page_checks_input_and_who_may_edit(relay, store_way, wecom_sandbox, world):
    wecom_sandbox.scan(state=store_way.state, name="微信吴")
    relay()
    follow = Follow.objects.get()
    RemarkPush.objects.all().delete()
    url = f"/channels/wecom/follows/{follow.pk}/remark/"

    # A store staff member who is not this friend's member may not edit it; an outsider gets 404.
    world.client_for(world.store_staff).post(url, {"remark": "x", "description": "", "mobiles": ""})
    assert world.client_for(world.outsider).post(url, {"remark": "x"}).status_code == 404
    # A bad phone is refused before anything is recorded.
    op = world.client_for(world.operator)
    op.post(url, {"remark": "吴先生", "description": "", "mobiles": "12345"})
    assert not RemarkPush.objects.exists()

    response = op.post(url, {"remark": "吴先生", "description": "常客", "mobiles": f"{PHONE}\n"})
    assert response.status_code == 302
    follow.refresh_from_db()
    assert (follow.remark, follow.description, follow.remark_phones) == ("吴先生", "常客", [PHONE])
    page = op.get(f"/customers/{follow.customer_id}/").content.decode()
    assert 'data-testid="wecom-remarks"' in page and "吴先生" in page


def test_a_redemptions_own_code_joins_the_buyer(relay, store_way, wecom_sandbox, world):
    _lead, redemption = douyin_lead_and_meituan_buyer(world)
    code = lead_code_issue(base=store_way, customer=redemption.customer, redemption=redemption)
    assert code is not None and code.state.startswith(f"mt{redemption.pk}_")
    # Asking again for the same redemption gives the same unused code (no second WeCom code).
    assert lead_code_issue(base=store_way, customer=redemption.customer, redemption=redemption) == code
    wecom_sandbox.scan(state=code.state, name="微信周")
    relay()
    customer = Customer.objects.get(organization=world.org)
    assert platforms(customer) == ["douyin", "meituan", "wecom"]
    assert CustomerMerge.objects.get(survivor=customer).matched_keys == ["lead_code"]
