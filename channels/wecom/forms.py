"""Django forms of the WeCom console pages: the corp account, 渠道活码 / 群活码, 获客链接, 客户继承."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.models import ChannelAccount, ContactWay, ContactWayKind, TransferKind
from channels.wecom import contact_ways, schedules
from channels.wecom.remarks import DESCRIPTION_MAX, MOBILES_MAX, REMARK_MAX, RemarkError, normalize_mobiles
from contacts.forms import choices_from
from contacts.models import SourceChannel, Staff, Store, Tag


class WeComAccountForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100, initial="企业微信")
    corp_id = forms.CharField(label=_("企业ID (CorpID)"), max_length=64)
    agent_id = forms.CharField(label=_("应用 AgentId"), max_length=32, required=False)
    secret = forms.CharField(
        label=_("应用 Secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("「客户联系 → 可调用接口的应用」里的自建应用 Secret；编辑时留空表示不修改"),
    )
    token = forms.CharField(label=_("回调 Token"), max_length=64, required=False)
    aes_key = forms.CharField(
        label=_("回调 EncodingAESKey"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("43 个字符；编辑时留空表示不修改"),
    )
    api_base = forms.CharField(
        label=_("API 地址"), max_length=200, required=False, help_text=_("留空为 https://qyapi.weixin.qq.com")
    )
    default_store = forms.ModelChoiceField(label=_("默认门店"), queryset=Store.objects.none(), required=False)
    default_tags = forms.ModelMultipleChoiceField(label=_("默认标签"), queryset=Tag.objects.none(), required=False)
    per_minute = forms.IntegerField(
        label=_("每个接口每分钟调用上限"), min_value=1, required=False, help_text=_("留空为企业微信的 10000 次/分钟")
    )
    concurrency = forms.IntegerField(
        label=_("每个接口并发上限"), min_value=1, max_value=50, required=False, help_text=_("留空为 5")
    )
    welcome_text = forms.CharField(
        label=_("默认欢迎语"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=1000
    )

    def __init__(self, *args: Any, organization: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_from(self, "default_store", Store.objects.filter(organization=organization))
        choices_from(self, "default_tags", Tag.objects.filter(organization=organization))
        if not editing:
            for name in ("secret", "token", "aes_key"):
                self.fields[name].required = True

    def clean_aes_key(self) -> str:
        value: str = self.cleaned_data.get("aes_key", "").strip()
        if value and len(value) != 43:
            raise forms.ValidationError(_("EncodingAESKey 应为 43 个字符，请从企业微信后台完整复制"))
        return value


class ContactWayForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("类型"),
        choices=[(v, label) for v, label in ContactWayKind.choices if v != ContactWayKind.LINK],
        initial=ContactWayKind.CONTACT,
        required=False,
    )
    name = forms.CharField(label=_("名称"), max_length=100)
    state = forms.CharField(
        label=_("渠道参数"), max_length=30, required=False, help_text=_("最多 30 个字符；留空自动生成")
    )
    channel = forms.ChoiceField(label=_("来源渠道"), choices=SourceChannel.choices, initial=SourceChannel.WECOM)
    store = forms.ModelChoiceField(label=_("门店"), queryset=Store.objects.none(), required=False)
    staff = forms.ModelMultipleChoiceField(label=_("接待员工"), queryset=Staff.objects.none(), required=False)
    tags = forms.ModelMultipleChoiceField(label=_("添加后自动打标签"), queryset=Tag.objects.none(), required=False)
    welcome_text = forms.CharField(
        label=_("欢迎语"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )
    skip_verify = forms.BooleanField(label=_("免验证添加"), required=False, initial=True)
    chat_ids = forms.CharField(
        label=_("客户群 ID"), required=False, help_text=_("群活码：每行一个客户群 ID，最多 5 个")
    )
    auto_create_room = forms.BooleanField(label=_("群满自动建新群"), required=False, initial=True)
    room_base_name = forms.CharField(label=_("新群名称前缀"), max_length=40, required=False)
    room_base_id = forms.IntegerField(label=_("新群起始序号"), min_value=1, initial=1, required=False)
    remark_template = forms.CharField(
        label=_("自动备注"),
        max_length=60,
        required=False,
        help_text=_("客户添加后自动写入企业微信备注（最多 20 字），例如 {channel}-{store}；可用 {staff} {name} {code}"),
    )

    daily_cap = forms.IntegerField(
        label=_("每人每日添加上限"),
        required=False,
        min_value=1,
        max_value=10000,
        help_text=_("按北京时间每天计数；某位员工满额后，活码改由其他员工和备用员工接待，次日恢复。留空不限制"),
        error_messages={"min_value": _("每日添加上限至少为 1；不限制请留空"), "invalid": _("每日添加上限请填整数")},
    )
    member_caps = forms.CharField(
        label=_("单独设置上限"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("每行一位：企业微信账号=上限，例如 bj001_02=30；未列出的员工用上面的统一上限"),
    )
    backup_staff = forms.ModelMultipleChoiceField(label=_("备用员工"), queryset=Staff.objects.none(), required=False)
    windows = forms.CharField(
        label=_("工作时段"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "北京时间；每行一个时段：星期 开始-结束 企业微信账号，例如“1-5 09:00-18:00 bj001_01,bj001_02”"
            "“6,7 10:00-22:00 bj001_03”（1=周一…7=周日，24:00=当天结束）。时段外由上面的接待员工接待；留空不排班"
        ),
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_from(self, "store", actor.scope(Store.objects.all()))
        choices_from(self, "staff", actor.scope(Staff.objects.exclude(wecom_userid="").filter(is_active=True)))
        choices_from(self, "backup_staff", actor.scope(Staff.objects.exclude(wecom_userid="").filter(is_active=True)))
        choices_from(self, "tags", actor.scope(Tag.objects.select_related("group")))

    def clean_member_caps(self) -> dict[str, int]:
        caps: dict[str, int] = {}
        for number, line in enumerate((self.cleaned_data.get("member_caps") or "").splitlines(), start=1):
            line = line.strip().replace("＝", "=")
            if not line:
                continue
            userid, sep, value = (part.strip() for part in line.partition("="))
            if not sep or not userid or not value.isdigit() or int(value) < 1:
                raise forms.ValidationError(
                    _("第 %(n)s 行格式不对：请写成“企业微信账号=上限”，上限为正整数，例如 bj001_02=30") % {"n": number}
                )
            if userid in caps:
                raise forms.ValidationError(_("“%(u)s”写了两次，请只保留一行") % {"u": userid})
            caps[userid] = int(value)
        return caps

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        members = {s.wecom_userid for s in data.get("staff") or []}
        unknown = [u for u in data.get("member_caps") or {} if u not in members]
        if unknown:
            self.add_error("member_caps", _("这些账号不是本活码的接待员工：%(u)s") % {"u": "、".join(unknown)})
        capped = data.get("daily_cap") is not None or bool(data.get("member_caps"))
        if capped and not data.get("backup_staff"):
            self.add_error("backup_staff", _("设置了每日添加上限时，请至少选择一位备用员工"))
        return data

    def clean_chat_ids(self) -> list[str]:
        raw: str = self.cleaned_data.get("chat_ids") or ""
        return [line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip()]


class AcquisitionLinkForm(forms.Form):
    name = forms.CharField(label=_("链接名称"), max_length=100)
    store = forms.ModelChoiceField(label=_("门店"), queryset=Store.objects.none(), required=False)
    staff = forms.ModelMultipleChoiceField(
        label=_("接待员工"), queryset=Staff.objects.none(), help_text=_("点开链接的客户会被分配给其中一位，最多 100 位")
    )
    tags = forms.ModelMultipleChoiceField(label=_("添加后自动打标签"), queryset=Tag.objects.none(), required=False)
    welcome_text = forms.CharField(
        label=_("欢迎语"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )
    skip_verify = forms.BooleanField(label=_("免验证添加"), required=False, initial=True)

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_from(self, "store", actor.scope(Store.objects.all()))
        choices_from(self, "staff", actor.scope(Staff.objects.exclude(wecom_userid="").filter(is_active=True)))
        choices_from(self, "tags", actor.scope(Tag.objects.select_related("group")))


class AcquisitionChannelForm(forms.Form):
    """One place the link is handed out (a row of the channel table; an empty row is skipped)."""

    label = forms.CharField(label=_("投放位置"), max_length=100, required=False)
    customer_channel = forms.CharField(
        label=_("渠道参数"), max_length=30, required=False, help_text=_("最多 30 个字符；留空自动生成")
    )
    channel = forms.ChoiceField(label=_("来源渠道"), choices=SourceChannel.choices, initial=SourceChannel.OTHER)
    store = forms.ModelChoiceField(label=_("归属门店"), queryset=Store.objects.none(), required=False)

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_from(self, "store", actor.scope(Store.objects.all()))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("customer_channel") and not (data.get("label") or "").strip():
            self.add_error("label", _("请填写投放位置，例如“抖音主页”"))
        return data


AcquisitionChannelFormSet = forms.formset_factory(AcquisitionChannelForm, extra=2, max_num=50)


class TransferForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=TransferKind.choices)
    handover = forms.ModelChoiceField(label=_("原跟进人"), queryset=Staff.objects.none())
    takeover = forms.ModelChoiceField(label=_("接替人"), queryset=Staff.objects.none())
    message = forms.CharField(label=_("转接提示语"), max_length=200, required=False)

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = actor.scope(Staff.objects.exclude(wecom_userid=""))
        choices_from(self, "handover", staff)
        choices_from(self, "takeover", staff.filter(is_active=True))


class GroupTransferForm(forms.Form):
    """客户群继承: every live customer group one member owns, to a colleague."""

    kind = forms.ChoiceField(label=_("类型"), choices=TransferKind.choices)
    handover = forms.ModelChoiceField(label=_("原群主"), queryset=Staff.objects.none())
    takeover = forms.ModelChoiceField(label=_("新群主"), queryset=Staff.objects.none())

    prefix = "group"  # its fields sit on the page next to the customer transfer form's

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = actor.scope(Staff.objects.exclude(wecom_userid=""))
        choices_from(self, "handover", staff)
        choices_from(self, "takeover", staff.filter(is_active=True))


class FollowRemarkForm(forms.Form):
    """A member's remark for a customer, checked against WeCom's bounds before anything is recorded."""

    remark = forms.CharField(label=_("备注"), max_length=REMARK_MAX, required=False)
    description = forms.CharField(label=_("描述"), max_length=DESCRIPTION_MAX, required=False)
    mobiles = forms.CharField(label=_("备注手机号"), required=False, widget=forms.Textarea)

    def clean_mobiles(self) -> list[str]:
        raw = [p for chunk in self.cleaned_data["mobiles"].splitlines() for p in chunk.replace("，", ",").split(",")]
        try:
            phones = normalize_mobiles(raw)
        except RemarkError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if len(phones) > MOBILES_MAX:
            raise forms.ValidationError(_("备注手机号最多 %(n)s 个") % {"n": MOBILES_MAX})
        return phones


def contact_way_initial(way: ContactWay) -> dict[str, Any]:
    """A code's current values in :class:`ContactWayForm`'s shape (the edit page's initial data, and
    what the API's partial edit starts from)."""
    return {
        "kind": way.kind,
        "name": way.name,
        "state": way.state,
        "channel": way.channel,
        "store": way.store,
        "staff": list(way.staff.all()),
        "tags": list(way.tags.all()),
        "welcome_text": way.welcome_text,
        "skip_verify": way.skip_verify,
        "chat_ids": "\n".join(way.chat_ids),
        "auto_create_room": way.auto_create_room,
        "room_base_name": way.room_base_name,
        "room_base_id": way.room_base_id,
        "remark_template": way.remark_template,
        "daily_cap": way.daily_cap,
        "member_caps": "\n".join(f"{u}={n}" for u, n in (way.member_caps or {}).items()),
        "backup_staff": list(way.backup_staff.all()),
        "windows": schedules.format_windows(way),
    }


def contact_way_save_from_form(
    *, account: ChannelAccount, way: ContactWay | None, data: dict[str, Any], by: Staff | None
) -> ContactWay:
    """Save a valid :class:`ContactWayForm` through ``contact_way_save`` (row first, then WeCom); the
    console page and the API both come here. The kind of an existing code never changes."""
    return contact_ways.contact_way_save(
        account=account,
        way=way,
        kind=way.kind if way else (data["kind"] or ContactWayKind.CONTACT),
        name=data["name"],
        state=data["state"],
        channel=data["channel"],
        store=data["store"],
        staff=list(data["staff"]),
        tags=list(data["tags"]),
        welcome_text=data["welcome_text"],
        skip_verify=data["skip_verify"],
        chat_ids=data["chat_ids"],
        auto_create_room=data["auto_create_room"],
        room_base_name=data["room_base_name"],
        room_base_id=data["room_base_id"] or 1,
        remark_template=data["remark_template"],
        daily_cap=data["daily_cap"],
        member_caps=data["member_caps"],
        backup_staff=list(data["backup_staff"]),
        windows=data["windows"],
        by=by,
    )
