"""Every console page, every role, phone and desktop (issue 13).

The page list is read from the URLconf, so a new page is walked without touching this file; a new
route with parameters fails here until ``PARAMS`` says which demo object fills it. The world is the
demo brand (small), plus the few objects the demo does not make. Each role signs in once; one
browser, one tab per role and width, reused for every page.

A page fails on: a 5xx or an unexpected 404, a console error or uncaught exception, content wider
than the viewport, visible text holding a snake_case code or an English word in the Chinese UI, an
error page that is not the console's styled one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from campaigns.models import Batch, Campaign, QuotaPolicy
from channels.leads.pool import RuleInput, lead_pool_rule_save, lead_pool_tick
from channels.materials import material_create
from channels.models import (
    AcquisitionLink,
    ChannelAccount,
    ContactWay,
    CustomerTransfer,
    GroupWelcomeTemplate,
    InboxEvent,
    LeadForm,
    LeadPoolRule,
    Material,
)
from contacts import services
from contacts.access import Actor, actor_for_user
from contacts.models import (
    Customer,
    CustomerGroup,
    CustomField,
    CustomFieldKind,
    Follow,
    ImportJob,
    Organization,
    Segment,
    Staff,
    Store,
)
from journeys import services as journey_services
from journeys.group_models import GroupSop
from journeys.models import Journey, JourneyStep
from offers import services as offer_services
from offers.models import CouponTemplate
from referrals.models import ReferralCampaign
from tests.e2e.conftest import screenshot
from todos.models import Todo, TodoKind
from todos.services import TodoSpec, todos_create

pytestmark = pytest.mark.e2e

ROLES = ("operator", "manager", "staff")
WIDTHS = ((1440, 900), (390, 844))
# Not console pages: sign-in/out, the language switch, machine endpoints, downloads, WeCom's OAuth
# hops, the public H5 form customers fill in (its own browser test covers it).
SKIP_NAMES = {
    "login",
    "logout",
    "set_language",
    "healthz",
    "api-schema",
    "api-docs",
    "api-redoc",
    "channels:webhook",
    "channels:webhook_bare",
    "channels:wecom_login",
    "channels:wecom_login_done",
    "channels:wecom_jssdk",
    "channels:form_public",
    "channels:contactway_qr",
    "channels:material_file",  # the stored bytes of a material (an image or a download)
    "analytics:export",
    "campaigns:campaign_progress",
    "contacts:customer_privacy_export",
    # The one-time password link a new login receives: a public page behind a signed token.
    "contacts:password_set",
    # The customer's coupon page and its QR: public, behind a signed token (tests/e2e/test_coupons_browser.py).
    "offers:customer_coupon",
    "offers:customer_coupon_qr",
    # The participant's referral poster: public, behind a signed token (tests/referrals/test_views.py);
    # its CSV export is a download, not a page.
    "referrals:poster",
    "referrals:leaderboard_csv",
}
SKIP_PREFIXES = ("admin/", "api/", "sandbox/", "hooks")
# Latin words allowed in the Chinese UI: brand and platform names and standard abbreviations.
ALLOWED_WORDS = {
    "SCRM",
    "WeCom",
    "API",
    "RFM",
    "LTV",
    "GMV",
    "OneID",
    "ID",
    "CSV",
    "xlsx",
    "JSON",
    "POS",
    "QR",
    "H5",
    "SDK",
    "URL",
    "Token",
    "AES",
    "UTC",
    "PNG",
    "JPG",
    "MB",
    "UnionID",
    "Excel",
    "Ctrl",
    "SOP",  # 群SOP: how Chinese SCRM products (and WeCom operators) name scheduled group posts
    "English",  # the language menu names English in English, as every site does
    # The platforms' own names for the credentials an operator copies from their consoles (WeCom's
    # Chinese admin shows exactly these words).
    "CorpID",
    "AgentId",
    "AppID",
    "Secret",
    "EncodingAESKey",
    "Client",
    "Key",
    # The predictive models' published names and their authors, cited on the 预测 page.
    "BG",
    "NBD",
    "MBG",
    "Gamma",
    "Fader",
    "Hardie",
    "Lee",
    "Batislam",
}
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b", re.ASCII)
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
# Data, not wording: URLs, domains and file names, and identifiers with a digit in them (store codes
# BJ001, order numbers DEMO-000082, redemption:38, logins bj001_02), and template placeholders ({store}).
IDENTIFIERS = re.compile(
    r"\{\w+\}|https?://\S+|\b[\w-]+(?:\.[\w-]+)+\b|\.[A-Za-z]{2,5}\b|\b[\w:-]*\d[\w:-]*\b", re.ASCII
)

# Visible text nodes, skipping what is meant to be copied verbatim (code, mono), form values and
# hidden elements. Passed as a function, never as a string (the CSP forbids eval).
VISIBLE_TEXT_JS = """() => {
  const skip = 'code, pre, kbd, samp, .mono, [data-user-content], script, style, noscript, textarea, select, option, [hidden]';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !el || el.closest(skip)) continue;
    if (!el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (el.getClientRects().length) out.push(el.getAttribute('placeholder'));
  }
  return out;
}"""
WIDTH_JS = """() => {
  const doc = document.documentElement;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 1 && getComputedStyle(el).position !== 'fixed') {
      if (!el.closest('.table-wrap, .card, pre') || el.matches('.card')) wide.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : ''));
    }
  }
  return {scroll: doc.scrollWidth, inner: window.innerWidth, wide: wide.slice(0, 5)};
}"""
ERROR_PAGE_JS = """() => {
  const card = document.querySelector('[data-error-page]');
  const sheet = [...document.styleSheets].some(s => (s.href || '').includes('console'));
  return Boolean(card) && sheet;
}"""


@dataclass
class Route:
    name: str
    route: str
    params: tuple[str, ...]


def console_routes() -> list[Route]:
    """Every named page of the URLconf that is not skipped above."""
    found: list[Route] = []

    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern) and p.name:
                name = f"{namespace}:{p.name}" if namespace else p.name
                route = prefix + str(p.pattern)
                if name in SKIP_NAMES or route.startswith(SKIP_PREFIXES):
                    continue
                found.append(Route(name, route, tuple(p.pattern.converters)))

    walk(get_resolver().url_patterns, "", None)
    return found


Fill = Callable[[Actor], tuple[dict[str, Any], bool] | None]


def _first(actor: Actor, model: type[Model], **filters: Any) -> tuple[Model, bool] | None:
    """An object of the role's scope (True), else any of its organization (False: the page may
    rightly answer 403/404 to this role)."""
    qs = model.objects.filter(**filters).order_by("pk")  # type: ignore[attr-defined]
    mine = actor.scope(qs).first()
    if mine is not None:
        return mine, True
    other = qs.filter(organization_id=actor.organization_id).first()
    return None if other is None else (other, False)


def _pk(model: type[Model], **filters: Any) -> Fill:
    def fill(actor: Actor) -> tuple[dict[str, Any], bool] | None:
        found = _first(actor, model, **filters)
        return None if found is None else ({"pk": found[0].pk}, found[1])

    return fill


def _batch(actor: Actor) -> tuple[dict[str, Any], bool] | None:
    batch = Batch.objects.filter(campaign__organization_id=actor.organization_id).order_by("pk").first()
    return None if batch is None else ({"pk": batch.campaign_id, "batch_id": batch.pk}, False)


def _campaign_action(actor: Actor) -> tuple[dict[str, Any], bool] | None:
    found = _first(actor, Campaign)
    return None if found is None else ({"pk": found[0].pk, "action": "pause"}, found[1])


def _merge_undo(actor: Actor) -> tuple[dict[str, Any], bool] | None:
    # The walk's world has no merge to undo: a POST-only action, so GET may rightly answer 405/404.
    found = _first(actor, Customer)
    return None if found is None else ({"pk": found[0].pk, "merge_id": 0}, False)


def _token_revoke(actor: Actor) -> tuple[dict[str, Any], bool] | None:
    # No token in the walk's world: a POST-only action, so GET may rightly answer 405/404.
    return {"pk": 0}, False


def _tag_rule(actor: Actor) -> tuple[dict[str, Any], bool] | None:
    from contacts.rule_models import TagRule

    pk = TagRule.objects.filter(organization_id=actor.organization_id).values_list("pk", flat=True).first()
    return {"pk": pk or 0}, False


def _issue_job(actor: Actor) -> tuple[dict[str, Any], bool] | None:
    from offers.models import CouponIssueJob

    found = _first(actor, CouponIssueJob)
    if found is not None:
        return {"pk": found[0].template_id, "job_pk": found[0].pk}, found[1]  # type: ignore[attr-defined]
    template = _first(actor, CouponTemplate)
    return None if template is None else ({"pk": template[0].pk, "job_pk": 0}, False)


# Route name → the URL parameters for a role (from demo objects in the role's scope where it has one).
PARAMS: dict[str, Fill] = {
    "contacts:customer_import_status": _pk(ImportJob),
    "contacts:customer_detail": _pk(Customer, order_count__gt=1),
    "contacts:customer_edit": _pk(Customer),
    "contacts:custom_field_edit": _pk(CustomField),
    "contacts:custom_field_delete": _pk(CustomField),
    "contacts:customer_tag_toggle": _pk(Customer),
    "contacts:customer_note_add": _pk(Customer),
    "contacts:customer_opt_out": _pk(Customer),
    "contacts:customer_privacy_erase": _pk(Customer),
    "contacts:group_detail": _pk(CustomerGroup),
    "contacts:segment_edit": _pk(Segment),
    "contacts:segment_delete": _pk(Segment),
    "contacts:segment_tag": _pk(Segment),
    "campaigns:campaign_detail": _pk(Campaign),
    "campaigns:batch_resolve": _batch,
    "campaigns:campaign_action": _campaign_action,
    "campaigns:quota_policy_edit": _pk(QuotaPolicy, channel_account__isnull=False),
    "campaigns:quota_policy_delete": _pk(QuotaPolicy),
    "channels:account_action": _pk(ChannelAccount),
    "channels:account_edit": _pk(ChannelAccount),
    "channels:lead_account_edit": _pk(ChannelAccount, platform__in=["douyin", "video"]),
    "channels:inbox_detail": _pk(InboxEvent),
    "channels:contactway_edit": _pk(ContactWay, kind__in=["contact", "join"]),
    "channels:contactway_action": _pk(ContactWay, kind__in=["contact", "join"]),
    "channels:contactway_print": _pk(ContactWay, kind__in=["contact", "join"]),
    "channels:acquisition_edit": _pk(AcquisitionLink),
    "channels:acquisition_action": _pk(AcquisitionLink),
    "channels:transfer_refresh": _pk(CustomerTransfer),
    "channels:leadform_edit": _pk(LeadForm),
    "channels:wecom_follow_remark": _pk(Follow),
    "channels:material_remove": _pk(Material),
    "channels:group_welcome_edit": _pk(GroupWelcomeTemplate),
    "channels:group_welcome_remove": _pk(GroupWelcomeTemplate),
    "contacts:customer_merge": _pk(Customer),
    "contacts:customer_merge_undo": _merge_undo,
    "contacts:settings_store": _pk(Store),
    "contacts:settings_staff_edit": _pk(Staff),
    "contacts:settings_token_revoke": _token_revoke,
    "channels:lead_pool_rule_edit": _pk(LeadPoolRule),
    # The one-tap phone copy: a POST-only action, so GET rightly answers 405.
    "channels:lead_pool_phone": _token_revoke,
    "offers:template_detail": _pk(CouponTemplate),
    "offers:template_edit": _pk(CouponTemplate),
    "offers:template_issue": _pk(CouponTemplate),
    "offers:template_delete": _pk(CouponTemplate),
    "offers:customer_issue": _pk(Customer),
    "offers:issue_job_status": _issue_job,
    # The recount is a POST-only action: a GET rightly answers 405.
    "contacts:segment_recount": lambda actor: (
        {"pk": Segment.objects.filter(organization_id=actor.organization_id).values_list("pk", flat=True).first() or 0},
        False,
    ),
    "contacts:tag_rule_edit": _tag_rule,
    "contacts:tag_rule_run": _tag_rule,
    "contacts:tag_rule_delete": _tag_rule,
    "journeys:journey_detail": _pk(Journey),
    "journeys:journey_status": _pk(Journey),
    "journeys:step_add": _pk(Journey),
    "journeys:journey_enrol": _pk(Journey),
    "journeys:step_edit": _pk(JourneyStep),
    "journeys:todo_done": _pk(Todo),
    "referrals:campaign_detail": _pk(ReferralCampaign),
    "referrals:campaign_edit": _pk(ReferralCampaign),
    # POST-only actions: a GET rightly answers 405.
    "referrals:campaign_status": _pk(ReferralCampaign),
    "referrals:campaign_enrol_segment": _pk(ReferralCampaign),
    "referrals:customer_enrol": _pk(Customer),
    "journeys:group_sop_detail": _pk(GroupSop),
    "journeys:group_sop_status": _pk(GroupSop),
}


def _report_names() -> list[str]:
    from analytics import reports  # imported here: only this parametrised route needs the registry

    return sorted(reports.REPORTS)


def urls_for(actor: Actor, routes: list[Route]) -> Iterator[tuple[str, str, bool]]:
    """(route name, path, object in the role's scope) for every page, parameters filled for this role."""
    for r in routes:
        if not r.params:
            yield r.name, reverse(r.name), True
        elif r.name == "analytics:report":
            for name in _report_names():
                yield r.name, reverse(r.name, kwargs={"name": name}), True
        else:
            fill = PARAMS.get(r.name)
            assert fill is not None, f"{r.name} ({r.route}) has parameters: add a demo object for it to PARAMS"
            filled = fill(actor)
            assert filled is not None, f"no demo object fills {r.name} ({r.route}): add one to the walk's world"
            yield r.name, reverse(r.name, kwargs=filled[0]), filled[1]


def problems_in_text(texts: list[str]) -> list[str]:
    found = []
    for raw in texts:
        text = IDENTIFIERS.sub(" ", raw)
        for code in SNAKE.findall(text):
            found.append(f"code {code!r} in {raw[:60]!r}")
        for word in LATIN_WORD.findall(SNAKE.sub("", text)):
            if word not in ALLOWED_WORDS:
                found.append(f"English {word!r} in {raw[:60]!r}")
    return found


def test_the_text_check_finds_codes_and_english_words() -> None:
    assert problems_in_text(["RFM 分层：重要价值客户", "企业微信（WeCom）", "BJ001 · DEMO-000082 · 名单.csv"]) == []
    assert problems_in_text(["建档（ocean_engine）"]) == ["code 'ocean_engine' in '建档（ocean_engine）'"]
    assert problems_in_text(["RFM 分层：important_value"]) == ["code 'important_value' in 'RFM 分层：important_value'"]
    assert problems_in_text(["Page not found"])[0].startswith("English 'Page'")


def _world() -> Organization:
    """The demo brand, small, plus what the demo does not make (an import job, a custom field)."""
    call_command("demo_load", customers=60, verbosity=0)
    org = Organization.objects.get(slug="demo")
    operator = Staff.objects.get(organization=org, user__username="operator")
    ImportJob.objects.create(organization=org, created_by=operator, filename="会员名单.csv", content=b"")
    services.custom_field_create(
        organization=org, key="member_level", label="会员等级", kind=CustomFieldKind.CHOICE, options=["银卡", "金卡"]
    )
    actor = actor_for_user(operator.user)
    if not Segment.objects.filter(organization=org).exists():
        services.segment_save(actor=actor, name="高价值会员", expression={"ltv": {"min": 1000}})
    wecom = ChannelAccount.objects.filter(organization=org, platform="wecom").order_by("pk").first()
    assert wecom is not None
    if not InboxEvent.objects.filter(organization=org).exists():
        InboxEvent.objects.create(
            organization=org,
            account=wecom,
            platform="wecom",
            event_key="demo-walk-1",
            event_type="change_external_contact",
            body="<xml><Event>change_external_contact</Event></xml>",
            status="failed",
            attempts=3,
            error="客户不存在",
        )
    if not Material.objects.filter(organization=org).exists():
        poster = material_create(
            organization=org, kind="image", name="门店海报.png", data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, by=operator
        ).material
        # Not pushed (the walk has no WeCom to answer): shown as a failed sync with its reason.
        GroupWelcomeTemplate.objects.create(
            organization=org, account=wecom, name="新群欢迎", text="欢迎 %NICKNAME% 入群", kind="image",
            material=poster, push_state="failed", push_error="沙箱未启动",
        )  # fmt: skip
    if not CouponTemplate.objects.filter(organization=org).exists():
        coupon = offer_services.coupon_template_save(
            organization=org,
            data={"name": "新人立减5元", "kind": "amount", "amount_off": 5, "validity": "relative", "valid_days": 7,
                  "stock": 100},
            stores=[],
        )  # fmt: skip
        holder = Customer.objects.filter(organization=org, erased_at__isnull=True).order_by("pk").first()
        assert holder is not None
        offer_services.coupon_issue(template=coupon, customer=holder)
    if not QuotaPolicy.objects.filter(organization=org, channel_account__isnull=False).exists():
        QuotaPolicy.objects.create(organization=org, channel_account=wecom)
    if not CustomerTransfer.objects.filter(organization=org).exists():
        pair = list(Staff.objects.filter(organization=org, store__isnull=False).order_by("pk")[:2])
        CustomerTransfer.objects.create(
            organization=org, account=wecom, kind="on_job", handover=pair[0], takeover=pair[1], created_by=operator
        )
    if not LeadPoolRule.objects.filter(organization=org).exists():
        # The lead pool with a rule for the manager's store, and its queue handed out.
        manager = Staff.objects.get(organization=org, user__username="manager")
        members = list(Staff.objects.filter(store=manager.store).exclude(wecom_userid="").order_by("pk")[:2])
        lead_pool_rule_save(
            actor=actor,
            data=RuleInput(
                store_id=manager.store_id, is_active=True, daily_cap=20, work_start=dt.time(0),
                work_end=dt.time(23, 59), work_days=[], return_days=3, member_ids=[m.pk for m in members],
                backup_ids=[],
            ),
        )  # fmt: skip
        lead_pool_tick()
    if not Journey.objects.filter(organization=org).exists():
        journey = journey_services.journey_from_template(actor=actor, key="new_friend")
        journey_services.journey_set_status(actor=actor, journey=journey, status="active")
        clerk = Staff.objects.get(organization=org, user__username="staff")
        todos_create(
            organization_id=org.pk,
            specs=[
                TodoSpec(
                    assignee_id=clerk.pk, kind=TodoKind.JOURNEY_TASK, title="新好友欢迎旅程 · 第1步",
                    body="您好，欢迎关注！", due_at=timezone.now(), source_key="walk:1",
                    customer_id=Customer.objects.filter(organization=org).order_by("pk").first().pk,
                )
            ],
        )  # fmt: skip
    return org


def test_every_console_page_of_every_role_is_clean(browser: Any, live_server: Any, transactional_db: Any) -> None:
    _world()
    routes = console_routes()
    failures: list[str] = []
    walked = 0
    for username in ROLES:
        staff = Staff.objects.select_related("user").get(user__username=username)
        actor = actor_for_user(staff.user)
        assert actor is not None
        client = Client()
        client.force_login(staff.user)
        pages: list[tuple[str, str]] = []
        for name, path, in_scope in urls_for(actor, routes):
            response = client.get(path)
            kind = response.get("Content-Type", "")
            if response.status_code >= 500 or (response.status_code == 404 and in_scope):
                failures.append(f"{username} {path} ({name}): HTTP {response.status_code}")
            if response.status_code in (301, 302, 405) or not kind.startswith("text/html"):
                continue  # a redirect, a POST-only action, a download
            pages.append((name, path))
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        for width, height in WIDTHS:
            context = browser.new_context(
                base_url=live_server.url,
                viewport={"width": width, "height": height},
                locale="zh-CN",
                is_mobile=width < 500,
                has_touch=width < 500,
            )
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on(
                "console",
                lambda m, errors=errors: m.type == "error" and errors.append(f"{m.text} {m.location.get('url', '')}"),
            )
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            try:
                for name, path in pages:
                    walked += 1
                    errors.clear()
                    label = f"{username} {width}px {path} ({name})"
                    response = page.goto(path, wait_until="load")
                    code = response.status if response is not None else 0
                    with_problem = _check_page(page, code, errors)
                    if with_problem:
                        failures += [f"{label}: {p}" for p in with_problem]
                        screenshot(page, f"walk-{username}-{width}-{name}")
            finally:
                context.close()
    assert walked > 100
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)


def _check_page(page: Any, code: int, errors: list[str]) -> list[str]:
    problems: list[str] = []
    if code >= 500:
        problems.append(f"HTTP {code}")
    if code >= 400:
        if not page.evaluate(ERROR_PAGE_JS):
            problems.append(f"HTTP {code} without the console's styled error page")
        # A 403/404 for a role without the right is expected; the browser logs the status itself.
        errors = [e for e in errors if "status of 40" not in e]
    problems += [f"console error: {e[:200]}" for e in errors]
    width = page.evaluate(WIDTH_JS)
    if width["scroll"] > width["inner"] + 1:
        problems.append(f"page {width['scroll']} px wide in a {width['inner']} px viewport: {width['wide']}")
    problems += problems_in_text(page.evaluate(VISIBLE_TEXT_JS))
    return problems
