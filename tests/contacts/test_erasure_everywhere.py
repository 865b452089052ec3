"""Erasure leaves no copy anywhere (issue 14).

One person comes in through every door the product has — a WeCom add (the sandbox's real encrypted
callbacks), a Douyin DM lead, a Meituan redemption, the public H5 form, a customer import file (with a
rejected row that holds their phone too), an order import, an API order whose item text names them, a
note, a campaign message to them, a customer transfer, a merge with a second record, searches that
could fill a cache, the web server's access log (a real gunicorn) and the app log — and is then erased
through the product's own erasure page. Afterwards a ``pg_dump --inserts`` of the whole test database
(bytea as hex), every value in Redis and every captured log line are searched for each of their
identifiers, in every form they could be written in; none may be found.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from analytics.models import Order, OrderImport
from channels.douyin.crypto import sign
from channels.inbox import inbox_process
from channels.meituan.services import redemption_consume
from channels.models import ChannelPlatform, ContactWay, CustomerTransfer, InboxEvent, InboxStatus, LeadForm
from channels.sandbox.douyin import DouyinWebhookEmitter
from channels.sandbox.douyin import serve as serve_fake
from channels.sandbox.meituan import MeituanFake
from contacts import crypto, imports, services
from contacts.models import Customer, Identity, PrivacyRecord, Staff
from scrm.launcher import gunicorn_command
from tests.campaigns.factories import campaign, policy
from tests.channels.leads.helpers import make_account
from tests.channels.wecom.test_events import Relay
from tests.conftest import BASE_DIR
from tests.factories import CustomerFactory, StaffFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NAME = "林晓雯"
PHONE = "13912345678"
EXT = "wmLinXiaoWen0001"  # WeCom external_userid
UNIONID = "ouLinXiaoWenUnion0001"
OPEN_ID = "_000LinXiaoWenDouyinOpenId01"  # Douyin open_id
EMAIL = "linxiaowen@example.com"
ADDRESS = "愚园路88弄6号"
ITEM = "林晓雯专属刻字礼盒"  # order item text (order import)
ITEM_API = "给林晓雯的生日蛋糕"  # order item text (API)
REMARK = "晓雯-敏感肌VIP"
SECRET = "douyin-client-secret"
PG = ["-h", "127.0.0.1", "-U", "postgres"]


def phone_forms(phone: str) -> list[str]:
    """Every way the number is written in payloads, files and logs (plus its lookup hash)."""
    spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    dashed = f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    masked = f"{phone[:3]}****{phone[-4:]}"
    return [phone, f"+86{phone}", f"86{phone}", f"+86 {spaced}", spaced, dashed, masked, crypto.phone_hash(phone)]


def needles() -> dict[str, list[str]]:
    """Each identifier → the strings that would betray it (plain, JSON-escaped, URL-encoded)."""
    out: dict[str, list[str]] = {"phone": phone_forms(PHONE)}
    for label, value in {
        "name": NAME,
        "external_userid": EXT,
        "unionid": UNIONID,
        "douyin_open_id": OPEN_ID,
        "email": EMAIL,
        "address": ADDRESS,
        "item": ITEM,
        "item_api": ITEM_API,
        "remark": REMARK,
    }.items():
        out[label] = sorted({value, json.dumps(value)[1:-1], quote(value)})
    return out


def encoded_forms(text: str) -> list[bytes]:
    """A needle as it appears in raw bytes (UTF-8, GBK), as hex (pg_dump's bytea) and as base64."""
    forms: list[bytes] = []
    for encoding in ("utf-8", "gbk"):
        try:
            raw = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        forms += [raw, raw.hex().encode(), base64.b64encode(raw)[:-4] if len(raw) > 6 else raw]
    return forms


FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_=-]{40,}")


def decrypted(blob: bytes) -> bytes:
    """The plaintext of every value encrypted with the app's key (phones, remark mobiles, secrets): a
    ciphertext the app can read back is a copy too. One line per token, named by the INSERT it was in."""
    lines = []
    for line in blob.splitlines():
        for token in FERNET_TOKEN.findall(line):
            plain = crypto.decrypt_phone(token.decode())
            if plain:
                table = line.split(b" ", 3)[2] if line.startswith(b"INSERT INTO ") else b"?"
                lines.append(b"INSERT INTO " + table + b" (decrypted) " + plain.encode())
    return b"\n".join(lines)


def find(blob: bytes, where: str) -> list[str]:
    """``where: identifier (form)`` for each identifier found; for a dump, with the tables holding it."""
    found = []
    for label, values in needles().items():
        for value in values:
            forms = encoded_forms(value)
            if not any(form in blob for form in forms):
                continue
            tables = sorted(
                {
                    line.split(b" ", 3)[2].decode()
                    for line in blob.splitlines()
                    if line.startswith(b"INSERT INTO ") and any(form in line for form in forms)
                }
            )
            found.append(f"{where}: {label} ({value!r}) {' '.join(tables)}".rstrip())
    return found


# --- servers and log capture ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The web server as ``make run`` starts it, on the test database; yields (base url, its log)."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scrm.settings_test", "DATABASE_URL": _database_url()}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            gunicorn_command(f"127.0.0.1:{port}", "1", "1"), cwd=BASE_DIR, env=env, stdout=out, stderr=out
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    requests.get(f"{base}/healthz", timeout=20)
                    break
                except requests.RequestException:
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.3)
            yield base, log
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture
def app_log() -> Iterator[io.StringIO]:
    """The app log as production writes it: the LOGGING handler's filter and JSON formatter, root level."""
    from django.utils.module_loading import import_string

    conf = settings.LOGGING
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter_conf = dict(conf["formatters"]["json"])
    formatter_cls = import_string(formatter_conf.pop("()"))
    handler.setFormatter(formatter_cls(formatter_conf.pop("format"), **formatter_conf))
    handler.addFilter(import_string(conf["filters"]["redact"]["()"])())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.fixture
def meituan(world: Any) -> Iterator[tuple[MeituanFake, Any]]:
    fake = MeituanFake()
    token = fake.authorize(shop="shop-a")
    served = serve_fake(fake)
    account = make_account(
        world.org,
        ChannelPlatform.MEITUAN,
        credentials={"developer_id": fake.developer_id, "sign_key": fake.sign_key, "app_auth_token": token},
        api_base=served.base_url,
        external_id="shop-a",
        store=world.store_a,
    )
    yield fake, account
    served.stop()


# --- the doors ----------------------------------------------------------------------------------


def wecom_add(sandbox: Any, world: Any) -> tuple[Any, Staff, Staff]:
    """The person scans a guide's code and adds them; the guide writes a remark with the phone."""
    guide = StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="导购甲")
    other = StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_b", name="导购乙")
    for staff in (guide, other):
        sandbox.add_member(staff.wecom_userid, staff.name)
    account = sandbox.connect(world.org, default_store=world.store_a)
    relay = Relay(sandbox, account)
    sandbox.scan(userid="guide_a", external_userid=EXT, name=NAME, unionid=UNIONID)
    sandbox.edit_customer(EXT, "guide_a", remark=REMARK, description=ADDRESS, remark_mobiles=[PHONE])
    assert set(relay()) == {InboxStatus.DONE}
    return account, guide, other


def remark_push(guide: Staff) -> None:
    """The guide edits the WeCom remark from the console: a push row, then the call to WeCom."""
    from channels.wecom.remarks import remark_push_record, remark_push_run
    from contacts.models import Follow

    follow = Follow.objects.get(staff=guide, customer__identities__external_id=EXT)
    push = remark_push_record(
        follow=follow, remark=f"{NAME} 老客", description=f"住{ADDRESS}", mobiles=[PHONE], by=guide
    )
    assert remark_push_run(push_id=push.pk).status == "done"


def douyin_lead(world: Any) -> None:
    account = make_account(
        world.org,
        ChannelPlatform.DOUYIN,
        external_id="awsandboxclientkey",
        credentials={"client_secret": SECRET},
        store=world.store_a,
    )
    emitter = DouyinWebhookEmitter(url="", client_secret=SECRET)
    bodies = [
        emitter.enter_direct_msg(open_id=OPEN_ID, nick_name=NAME),
        emitter.receive_msg(
            open_id=OPEN_ID, text=f"我是{NAME}，电话 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}，邮箱 {EMAIL}"
        ),
    ]
    for index, body in enumerate(bodies):
        raw = json.dumps(body, ensure_ascii=index == 0).encode()  # one pushed with \\u escapes, one without
        response = Client().post(
            f"/hooks/douyin/{account.hook_key}/",
            data=raw,
            content_type="application/json",
            headers={"X-Douyin-Signature": sign(SECRET, raw), "Msg-Id": f"dy-{index}"},
        )
        assert response.status_code == 200, response.content
    for event in InboxEvent.objects.filter(platform="douyin").order_by("id"):
        assert inbox_process(event_id=event.pk) == InboxStatus.DONE


def meituan_redemption(world: Any, meituan: tuple[MeituanFake, Any]) -> None:
    fake, account = meituan
    voucher = fake.add_voucher(shop="shop-a", price="88.00", mobile=f"{PHONE[:3]}****{PHONE[-4:]}")
    redemption_consume(
        account=account,
        staff=world.store_staff,
        store=world.store_a,
        request_id="req-lin",
        receipt_code=voucher.code,
        phone=PHONE,
    )


def form_submission(world: Any) -> None:
    wecom = make_account(world.org, ChannelPlatform.WECOM, external_id="wwformcorp")
    way = ContactWay.objects.create(
        organization=world.org, account=wecom, name="表单活码", state="form_lin", store=world.store_a
    )
    LeadForm.objects.create(organization=world.org, slug="lin", title="到店礼", store=world.store_a, contact_way=way)
    response = Client().post(
        "/f/lin/", {"name": NAME, "phone": f"+86 {PHONE}", "consent": "on"}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 200, response.content


def customer_import(world: Any) -> None:
    content = (
        "姓名,手机号,性别,门店编码,标签,备注,unionid,来源渠道\n"
        f"{NAME},{PHONE},女,A,,住{ADDRESS} 邮箱{EMAIL},,\n"
        f"{NAME},{PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]},{NAME},A,,,,\n"  # rejected, and the reason quotes the cell
    ).encode("gbk")
    job = imports.import_start(organization=world.org, by=world.operator, filename=f"{NAME}.csv", content=content)
    job.refresh_from_db()
    assert (job.status, job.rejected_count) == ("done", 1), job.errors
    assert NAME in job.errors[0]["reason"]  # the reason quotes the cell


def order_import(world: Any) -> None:
    csv = (
        "外部单号,手机号,姓名,门店编码,导购,金额,退款金额,支付时间,商品\n"
        f"P-LIN-1,{PHONE},{NAME},A,,199.00,,2026-03-01 14:30,{ITEM}\n"
        f"P-LIN-2,{PHONE},{NAME},A,,{PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]},,2026-03-02 14:30,{ITEM}\n"  # shifted
    )
    client = world.client_for(world.operator)
    upload = SimpleUploadedFile(f"{NAME}-orders.csv", csv.encode("utf-8-sig"), content_type="text/csv")
    assert client.post("/reports/orders/import/", {"file": upload}).status_code == 302
    job = OrderImport.objects.get()
    assert (job.created_rows, job.error_rows) == (1, 1) and PHONE[7:] in job.errors[0]["reason"], job.errors


def api_order(world: Any) -> None:
    body = {
        "external_ref": "API-LIN-1",
        "phone": PHONE,
        "amount": "58.00",
        "paid_at": "2026-03-03T10:00:00+08:00",
        "items": [{"sku": "CAKE", "name": ITEM_API, "qty": 1, "price": "58.00", "note": f"送到{ADDRESS}"}],
    }
    response = world.client_for(world.operator).post("/api/v1/orders/", body, content_type="application/json")
    assert response.status_code in (200, 201), response.content


def campaign_message(world: Any, person: Customer, sandbox: Any) -> None:
    from datetime import time as clock

    from django.utils import timezone

    from campaigns import dispatcher
    from campaigns.models import Batch, Campaign, CampaignStatus, Delivery
    from campaigns.planner import campaign_plan

    policy(world.org, quiet_start=clock(0), quiet_end=clock(0))
    c = campaign(world.org, text="春季会员日", expression={})
    campaign_plan(campaign_id=c.pk, now=timezone.now())
    Campaign.objects.filter(pk=c.pk).update(status=CampaignStatus.SENDING)
    Batch.objects.filter(campaign=c).update(not_before=None)
    assert Delivery.objects.filter(campaign=c, customer=person, status="planned").exists()
    for batch in Batch.objects.filter(campaign=c):
        dispatcher.batch_dispatch(batch_id=batch.pk)
    recipients = [
        r for msg in sandbox.group_sends().values() for task in msg.tasks.values() for r in task["recipients"]
    ]
    assert EXT in recipients


def customer_transfer(world: Any, account: Any, guide: Staff, other: Staff) -> None:
    from channels.wecom.transfers import transfer_start

    transfer = transfer_start(account=account, kind="on_job", handover=guide, takeover=other, by=world.operator)
    assert EXT in transfer.external_userids and EXT in transfer.results


def merge_second_record(world: Any, person: Customer) -> None:
    twin = CustomerFactory(organization=world.org, name=NAME, attributes={"email": EMAIL, "address": ADDRESS})
    services.customer_merge(survivor=person, absorbed=twin, reason=f"同一人：{NAME}", by=world.operator, manual=True)


def searches(world: Any, gunicorn: tuple[str, Path]) -> None:
    """Look the person up everywhere a cache or a log could keep the query: console, API, segment
    preview, sidebar — through Django and through the real web server's access log."""
    client = world.client_for(world.operator)
    for url in (
        f"/customers/?q={PHONE}",
        f"/customers/?q={quote(NAME)}",
        f"/api/v1/customers/?q={PHONE}",
        f"/api/v1/customers/export/?q={PHONE}",
    ):
        assert client.get(url).status_code == 200, url
    preview = client.post(
        "/api/v1/segments/preview/", {"expression": {"stores": [world.store_a.pk]}}, content_type="application/json"
    )
    assert preview.status_code == 200, preview.content
    base, _log = gunicorn
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    for url in (
        f"/customers/?q={PHONE}",
        f"/api/v1/customers/?q={quote(NAME)}",
        f"/login/?next=/customers/%3Fq%3D{PHONE}",
    ):
        assert session.get(base + url, timeout=20).status_code == 200, url


# --- the test ------------------------------------------------------------------------------------


def redis_dump() -> bytes:
    """Every key and value in the app's Redis database (strings, hashes, lists, sets, sorted sets)."""
    r = redis.Redis.from_url(settings.REDIS_CLIENT_URL)
    parts: list[bytes] = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        parts.append(key)
        if kind == b"string":
            parts.append(r.get(key) or b"")
        elif kind == b"hash":
            parts += [b for pair in r.hgetall(key).items() for b in pair]
        elif kind == b"list":
            parts += r.lrange(key, 0, -1)
        elif kind == b"set":
            parts += list(r.smembers(key))
        elif kind == b"zset":
            parts += [m for m, _score in r.zrange(key, 0, -1, withscores=True)]
    return b"\n".join(parts)


def pg_dump() -> bytes:
    env = {**os.environ, "PGOPTIONS": "-c bytea_output=hex"}
    return subprocess.run(
        ["pg_dump", *PG, "--inserts", "--no-owner", connection.settings_dict["NAME"]],
        capture_output=True,
        check=True,
        env=env,
    ).stdout


def test_one_person_through_every_door_then_erased_leaves_nothing(
    world,
    wecom_sandbox,
    meituan,
    gunicorn,
    app_log,
):
    account, guide, other = wecom_add(wecom_sandbox, world)
    person = Customer.objects.get(identities__external_id=EXT)
    assert person.unionid == UNIONID and person.name == NAME
    remark_push(guide)
    douyin_lead(world)
    meituan_redemption(world, meituan)
    form_submission(world)
    customer_import(world)
    order_import(world)
    api_order(world)
    services.note_add(customer=person, author=guide, body=f"住在{ADDRESS}，邮箱 {EMAIL}，电话 {PHONE}")
    # Every door found the same person (by phone, unionid or platform id).
    assert Customer.objects.filter(organization=world.org, erased_at__isnull=True).count() == 1, list(
        Customer.objects.values_list("name", "phone_mask")
    )
    person.refresh_from_db()
    assert person.phone == PHONE and Identity.objects.filter(customer=person, external_id=OPEN_ID).exists()
    assert Order.objects.filter(customer=person).count() == 3
    campaign_message(world, person, wecom_sandbox)
    customer_transfer(world, account, guide, other)
    merge_second_record(world, person)
    searches(world, gunicorn)
    logging.getLogger("scrm.test").info("looked up %s", PHONE)  # a careless line: the filter must catch it

    # Before: the identifiers are there (so the search below can fail).
    before = pg_dump()
    assert find(before, "pg_dump before"), "the dump does not hold the person before erasure"
    assert PHONE.encode() in decrypted(before)  # the ciphertexts are read back too
    for value in (PHONE, NAME, EXT, OPEN_ID, ITEM):
        assert any(form in before for form in encoded_forms(value)), value

    response = world.client_for(world.operator).post(
        reverse("contacts:customer_privacy_erase", args=[person.pk]),
        {"confirm": "yes", "reason": f"{NAME}（{PHONE}）本人来电要求删除"},
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.erased_at is not None

    dump = pg_dump()
    found = find(dump + b"\n" + decrypted(dump), "pg_dump") + find(redis_dump(), "redis")
    found += find(app_log.getvalue().encode(), "app log")
    found += find(gunicorn[1].read_bytes(), "web server log")
    assert not found, "\n".join(found)
    # What reports need stays: the orders and their amounts, anonymous.
    amounts = sorted(str(a) for a in Order.objects.filter(customer=person).values_list("amount", flat=True))
    assert amounts == ["199.00", "58.00", "88.00"]
    assert Order.objects.get(external_ref="API-LIN-1").items == [{"qty": 1, "price": "58.00"}]
    transfer = CustomerTransfer.objects.get()
    assert transfer.external_userids == [f"erased:{person.pk}"] and len(transfer.results) == 1  # counts stay
    record = PrivacyRecord.objects.get(customer_id=person.pk, action="erase")
    assert record.reason == "***（***）本人来电要求删除"  # the basis stays, their identifiers in it do not
