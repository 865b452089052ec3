"""The material library (素材库) and WeCom's media ids for it; imported at the end of ``channels.models``.

A :class:`Material` is an image, video or file stored once per organization (its bytes in Postgres,
unique by SHA-256), checked against what WeCom accepts when it is uploaded
(``channels.materials``, docs/platforms.md#wecom-media). Messages and Moments never carry URLs or
media ids of their own: they name a material, and ``channels.wecom.media`` turns it into a media id
for the account and the kind of use, cached in :class:`MaterialUpload` until WeCom forgets it (3 days).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Organization, Scoped, Staff

# docs/platforms.md#wecom-media: image ≤ 10 MB (JPG/PNG), video ≤ 10 MB (MP4), file ≤ 20 MB, all > 5 bytes.
MATERIAL_MIN_BYTES = 6
MATERIAL_MAX_BYTES = {"image": 10 * 1024 * 1024, "video": 10 * 1024 * 1024, "file": 20 * 1024 * 1024}


class MaterialKind(models.TextChoices):
    IMAGE = "image", _("图片")
    VIDEO = "video", _("视频")
    FILE = "file", _("文件")


class Material(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("类型"), max_length=10, choices=MaterialKind.choices)
    name = models.CharField(_("名称"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(_("大小"))
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField(editable=False)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = None  # a brand's library is shared by every store

    class Meta:
        verbose_name = _("素材")
        verbose_name_plural = _("素材")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sha256"], name="material_stored_once"),
            models.CheckConstraint(
                condition=Q(size__gte=MATERIAL_MIN_BYTES)
                & (
                    Q(kind="image", size__lte=MATERIAL_MAX_BYTES["image"])
                    | Q(kind="video", size__lte=MATERIAL_MAX_BYTES["video"])
                    | Q(kind="file", size__lte=MATERIAL_MAX_BYTES["file"])
                ),
                name="material_size_wecom_accepts",
            ),
        ]
        indexes = [models.Index(fields=["organization", "kind", "-created_at"], name="material_org_kind")]

    def __str__(self) -> str:
        return self.name


class MediaPurpose(models.TextChoices):
    MESSAGE = "message", _("消息")  # media/upload: 群发, 欢迎语, 入群欢迎语
    MOMENT = "moment", _("朋友圈")  # media/upload_attachment (attachment_type 1)


class UploadState(models.TextChoices):
    UPLOADING = "uploading", _("上传中")
    OK = "ok", _("已上传")
    FAILED = "failed", _("上传失败")


class MaterialUpload(models.Model):
    """One media id of a material per (account, purpose); the row is written before WeCom is called."""

    material = models.ForeignKey(Material, on_delete=models.CASCADE, related_name="uploads")
    account = models.ForeignKey("channels.ChannelAccount", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=10, choices=MediaPurpose.choices)
    state = models.CharField(max_length=10, choices=UploadState.choices, default=UploadState.UPLOADING)
    media_id = models.CharField(max_length=256, blank=True, default="")
    # WeCom's created_at + 3 days, less a margin so a send never carries an id about to lapse.
    expires_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(default=timezone.now)
    uploads = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["material", "account", "purpose"], name="material_upload_once"),
        ]


class GroupWelcomeKind(models.TextChoices):
    NONE = "", _("仅文字")
    IMAGE = "image", _("图片")
    LINK = "link", _("链接")
    MINIPROGRAM = "miniprogram", _("小程序")


class PushState(models.TextChoices):
    PENDING = "pending", _("同步中")
    OK = "ok", _("已同步")
    FAILED = "failed", _("同步失败")


class GroupWelcomeTemplate(Scoped):
    """入群欢迎语素材: text plus at most one image, link or miniprogram, held by WeCom under ``template_id``.

    The row (and ``push_state`` pending) is saved before WeCom is called; ``template_id`` is set when
    ``group_welcome_template/add`` answers (channels.wecom.group_welcome).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        "channels.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("企业微信账号")
    )
    name = models.CharField(_("名称"), max_length=100)
    text = models.TextField(_("文字内容"), blank=True, default="")
    kind = models.CharField(_("附件类型"), max_length=12, choices=GroupWelcomeKind.choices, blank=True, default="")
    # The image, or the miniprogram's cover; PROTECT: a material in use cannot be deleted.
    material = models.ForeignKey(
        Material, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("素材")
    )
    # link: {title, url, desc}; miniprogram: {title, appid, page}
    attachment = models.JSONField(default=dict, blank=True)
    template_id = models.CharField(max_length=128, blank=True, default="")
    push_state = models.CharField(max_length=10, choices=PushState.choices, default=PushState.PENDING)
    push_error = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = None

    class Meta:
        verbose_name = _("入群欢迎语")
        verbose_name_plural = _("入群欢迎语")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "template_id"], condition=~Q(template_id=""), name="group_welcome_template_once"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["", "link"]) | Q(material__isnull=False), name="group_welcome_material_needed"
            ),
        ]

    def __str__(self) -> str:
        return self.name
