"""Coupon pages: roles on every door, the customer's page (no login, no phone), profile and sidebar."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from offers import services
from offers.models import CouponStatus, CouponTemplate, IssuedCoupon, Redemption
from tests.factories import CustomerFactory
from tests.offers.helpers import template

pytestmark = pytest.mark.django_db


def test_template_pages_by_role(world):
    t = template(world.org)
    op = world.client_for(world.operator)
    assert op.get("/coupons/").status_code == 200
    assert "新人立减5元" in op.get("/coupons/?q=新人").content.decode()
    assert "新人立减5元" not in op.get("/coupons/?state=inactive").content.decode()
    assert op.get(f"/coupons/{t.pk}/").status_code == 200
    assert op.get("/coupons/new/").status_code == 200
    mgr = world.client_for(world.manager)
    assert mgr.get(f"/coupons/{t.pk}/").status_code == 200
    assert mgr.get("/coupons/new/").status_code == 403
    assert mgr.get(f"/coupons/{t.pk}/edit/").status_code == 403
    assert world.client_for(world.store_staff).get("/coupons/").status_code == 403
    assert world.client_for(world.outsider).get(f"/coupons/{t.pk}/").status_code == 404


def test_an_operator_creates_a_template_in_the_console_and_a_bad_one_names_the_field(world):
    op = world.client_for(world.operator)
    form = {
        "name": "周末8.5折", "kind": "percent", "percent_off": "15", "threshold": "50", "validity": "fixed",
        "valid_from": "2026-12-01T00:00", "valid_to": "2026-12-31T23:59", "stock": "200", "per_customer_limit": "1",
        "stores": [world.store_a.pk], "is_active": "on",
    }  # fmt: skip
    bad = op.post("/coupons/new/", {**form, "valid_to": ""})
    assert bad.status_code == 400 and 'data-field-error="valid_to"' in bad.content.decode()
    assert not CouponTemplate.objects.exists()
    response = op.post("/coupons/new/", form)
    assert response.status_code == 302
    t = CouponTemplate.objects.get()
    assert (t.benefit, list(t.stores.all())) == ("满 ¥50 享 8.5 折", [world.store_a])
    assert t.valid_to.isoformat().startswith("2026-12-31T15:59")  # typed in Beijing time


def test_staff_issue_from_the_profile_and_the_sidebar_lists_the_coupon(world):
    t = template(world.org)
    c = CustomerFactory(organization=world.org, home_store=world.store_a, phone="13800138000")
    clerk = world.client_for(world.store_staff)
    sidebar = clerk.get(f"/sidebar/?customer={c.pk}").content.decode()
    assert 'data-testid="coupon-issue-form"' in sidebar
    response = clerk.post(
        f"/customers/{c.pk}/coupons/issue/", {"template_id": t.pk, "next": f"/sidebar/?customer={c.pk}"}
    )
    assert response.status_code == 302 and response["Location"] == f"/sidebar/?customer={c.pk}"
    coupon = IssuedCoupon.objects.get()
    assert coupon.issued_by == world.store_staff
    sidebar = clerk.get(f"/sidebar/?customer={c.pk}").content.decode()
    assert coupon.code in sidebar and f"/coupons/redeem/?code={coupon.code}" in sidebar
    profile = world.client_for(world.operator).get(f"/customers/{c.pk}/").content.decode()
    assert 'data-testid="profile-coupons"' in profile and coupon.code in profile and "未使用" in profile
    # The profile links the customer's own coupon page and shows its QR (an unused coupon only).
    signed = services.coupon_link_token(coupon.token)
    assert f'href="/c/{signed}/"' in profile and f'src="/c/{signed}/qr.svg"' in profile
    assert Client().get(f"/c/{signed}/qr.svg").status_code == 200
    # Another store's customer is a 404 for the clerk; nothing issued.
    other = CustomerFactory(organization=world.org, home_store=world.store_b)
    assert clerk.post(f"/customers/{other.pk}/coupons/issue/", {"template_id": t.pk}).status_code == 404
    assert IssuedCoupon.objects.count() == 1


def test_the_customer_page_opens_without_login_shows_code_and_qr_and_no_phone(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_a, phone="13912345678")
    coupon = services.coupon_issue(template=template(world.org), customer=c)
    link = services.coupon_link(coupon.token)
    path = link.split("127.0.0.1:8000", 1)[-1] if "127.0.0.1:8000" in link else "/" + link.split("/", 3)[3]
    anonymous = Client()
    page = anonymous.get(path)
    body = page.content.decode()
    assert page.status_code == 200 and coupon.code in body and "立减 ¥5" in body and "未使用" in body
    assert "13912345678" not in body and "5678" not in body and c.name not in body
    qr = anonymous.get(path + "qr.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    # The raw token or the short code is not a link: only the signed token opens the page.
    assert anonymous.get(f"/c/{coupon.token}/").status_code == 404
    assert anonymous.get(f"/c/{coupon.code}/").status_code == 404
    # Redeemed: the page says so.
    services.coupon_redeem(organization=world.org, code=coupon.code, store=world.store_a, amount=Decimal("20"))
    assert "已核销" in anonymous.get(path).content.decode()


def test_the_redeem_page_redeems_for_the_clerks_store_and_shows_errors_by_field(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_b)
    coupon = services.coupon_issue(template=template(world.org), customer=c)
    clerk = world.client_for(world.store_staff)
    page = clerk.get(f"/coupons/redeem/?code={coupon.code}")
    assert page.status_code == 200 and coupon.code in page.content.decode()
    bad = clerk.post("/coupons/redeem/", {"code": coupon.code, "amount": "abc"})
    assert bad.status_code == 400 and 'data-field-error="amount"' in bad.content.decode()
    # The clerk cannot pick another store: store B is not offered and is refused.
    refused = clerk.post("/coupons/redeem/", {"code": coupon.code, "amount": "30", "store": world.store_b.pk})
    assert refused.status_code == 400 and not Redemption.objects.exists()
    done = clerk.post("/coupons/redeem/", {"code": coupon.code, "amount": "30", "store": world.store_a.pk})
    assert done.status_code == 200 and 'data-testid="redeem-ok"' in done.content.decode()
    redemption = Redemption.objects.get()
    assert (redemption.store, redemption.staff, redemption.order.staff) == (
        world.store_a,
        world.store_staff,
        world.store_staff,
    )
    assert IssuedCoupon.objects.get().status == CouponStatus.REDEEMED


def test_the_report_page_shows_figures_and_the_redeemed_orders(world):
    t = template(world.org)
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    coupon = services.coupon_issue(template=t, customer=c, campaign_id=None, source="referral")
    services.coupon_redeem(
        organization=world.org, code=coupon.code, store=world.store_a, amount=Decimal("99"), external_ref="R-1",
        staff=world.store_staff,
    )  # fmt: skip
    for staff in (world.operator, world.manager, world.store_staff):
        body = world.client_for(staff).get("/reports/coupons/").content.decode()
        assert "R-1" in body and "100%" in body and "¥99.00" in body, staff
        assert "任务宝奖励" in body, staff  # the redeemed coupon's source, by its label
    assert "R-1" not in world.client_for(world.outsider).get("/reports/coupons/").content.decode()
    assert "R-1" in world.client_for(world.operator).get(f"/reports/coupons/?template={t.pk}").content.decode()


def test_a_template_is_deleted_only_while_nothing_was_issued_from_it(world):
    unused, used = template(world.org, name="未发放"), template(world.org, name="已发放")
    services.coupon_issue(template=used, customer=CustomerFactory(organization=world.org, home_store=world.store_a))
    assert world.client_for(world.manager).post(f"/coupons/{unused.pk}/delete/").status_code == 403
    op = world.client_for(world.operator)
    assert op.post(f"/coupons/{used.pk}/delete/").status_code == 302
    assert CouponTemplate.objects.filter(pk=used.pk).exists()
    assert "不能删除" in op.get(f"/coupons/{used.pk}/").content.decode()
    assert op.post(f"/coupons/{unused.pk}/delete/").status_code == 302
    assert not CouponTemplate.objects.filter(pk=unused.pk).exists()
