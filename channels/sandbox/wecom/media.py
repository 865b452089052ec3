"""Media, attachments, Moments interactions and 入群欢迎语 of the WeCom fake (docs/platforms.md#wecom-media).

* ``media/upload`` (``type`` image|voice|video|file) and ``media/upload_attachment`` (``media_type``
  image|video|file, ``attachment_type`` 1 朋友圈 | 2 商品图册) take one multipart part named ``media``
  and answer a ``media_id`` valid for 3 days. They refuse like WeCom: no part 41005, a bad type 40005,
  a file that is not what its type says (image not JPG/PNG, video not MP4) 40004, ≤ 5 bytes or a file
  over 20 MB 40006, an image over 10 MB 40009, a video over 10 MB 40011.
* Every message and Moments attachment is checked by :meth:`MediaApi.check_attachments`: ≤ 9 of them,
  a known msgtype (else 40008), and each media id one this corp was given for that use and type,
  less than 3 days ago — a URL, an unknown, expired or other-use id is 40007, as WeCom answers.
* ``get_moment_comments`` answers the likes and comments seeded with :meth:`MediaApi.moment_interact`.
* ``group_welcome_template/add|edit|get|del`` keep ≤ 100 templates per corp.
"""

from __future__ import annotations

from typing import Any

from channels.filetypes import sniff
from channels.sandbox.wecom.core import FakeCore
from channels.sandbox.wecom.state import ApiError, Corp

MEDIA_TTL = 3 * 86400
MAX_ATTACHMENTS = 9
MB = 1024 * 1024
GROUP_WELCOME_MAX = 100
GROUP_WELCOME_TEXT_MAX_BYTES = 3000
UPLOAD_TYPES = ("image", "voice", "video", "file")
ATTACHMENT_MEDIA_TYPES = ("image", "video", "file")
MSGTYPES = ("image", "link", "miniprogram", "video", "file")


class MediaApi(FakeCore):
    # -- uploads ---------------------------------------------------------------------------------
    def _check_file(self, media_type: str, media: Any) -> dict[str, Any]:
        if not isinstance(media, dict) or not isinstance(media.get("data"), bytes):
            raise ApiError(41005, "media data missing")
        data: bytes = media["data"]
        size = len(data)
        if size <= 5:
            raise ApiError(40006, "invalid file size")
        kind = sniff(data)
        if media_type == "image":
            if kind not in ("jpg", "png"):
                raise ApiError(40004, "invalid media type: image must be JPG or PNG")
            if size > 10 * MB:
                raise ApiError(40009, "invalid image size")
        elif media_type == "video":
            if kind != "mp4":
                raise ApiError(40004, "invalid media type: video must be MP4")
            if size > 10 * MB:
                raise ApiError(40011, "invalid video size")
        elif media_type == "voice":
            if kind != "amr":
                raise ApiError(40004, "invalid media type: voice must be AMR")
            if size > 2 * MB:
                raise ApiError(40006, "invalid file size")
        elif size > 20 * MB:
            raise ApiError(40006, "invalid file size")
        return {"size": size, "filename": str(media.get("filename") or "")}

    def _issue(self, corp: Corp, media_type: str, purpose: str, info: dict[str, Any]) -> dict[str, Any]:
        media_id = self._id("media-" if purpose == "message" else "WWCISP_")
        created = int(self.now())
        corp.media[media_id] = {"type": media_type, "purpose": purpose, "created_at": created, **info}
        return {"type": media_type, "media_id": media_id, "created_at": str(created)}

    def api_media__upload(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        media_type = str(p.get("type") or "")
        if media_type not in UPLOAD_TYPES:
            raise ApiError(40005, "invalid type")
        return self._issue(corp, media_type, "message", self._check_file(media_type, p.get("media")))

    def api_media__upload_attachment(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        media_type = str(p.get("media_type") or "")
        if media_type not in ATTACHMENT_MEDIA_TYPES:
            raise ApiError(40005, "invalid media_type")
        if str(p.get("attachment_type") or "") not in ("1", "2"):
            raise ApiError(40058, "attachment_type must be 1 or 2")
        purpose = "moment" if str(p["attachment_type"]) == "1" else "album"
        return self._issue(corp, media_type, purpose, self._check_file(media_type, p.get("media")))

    def expire_media(self, corp_id: str = "") -> int:
        """Control: make every media id of the corp older than 3 days (WeCom forgets them)."""
        with self.lock:
            corp = self.corp(corp_id)
            for entry in corp.media.values():
                entry["created_at"] -= MEDIA_TTL + 1
            return len(corp.media)

    # -- attachments -----------------------------------------------------------------------------
    def _media_ok(self, corp: Corp, media_id: Any, *, purpose: str, media_type: str) -> None:
        entry = corp.media.get(str(media_id or ""))
        if (
            entry is None
            or entry["purpose"] != purpose
            or entry["type"] != media_type
            or self.now() - entry["created_at"] > MEDIA_TTL
        ):
            raise ApiError(40007, "invalid media_id")

    def check_attachments(self, corp: Corp, attachments: list[Any], *, purpose: str) -> None:
        """Refuse what WeCom refuses in ``attachments`` (``purpose`` "message" or "moment")."""
        if len(attachments) > MAX_ATTACHMENTS:
            raise ApiError(40058, f"attachments over {MAX_ATTACHMENTS}")
        for att in attachments:
            msgtype = att.get("msgtype") if isinstance(att, dict) else None
            if msgtype not in MSGTYPES:
                raise ApiError(40008, "invalid msgtype")
            self.check_attachment(corp, msgtype, att.get(msgtype) or {}, purpose=purpose)

    def check_attachment(self, corp: Corp, msgtype: str, body: dict[str, Any], *, purpose: str) -> None:
        if msgtype == "image":
            if body.get("media_id") or purpose == "moment":
                self._media_ok(corp, body.get("media_id"), purpose=purpose, media_type="image")
            elif not str(body.get("pic_url") or "").startswith("https://wework.qpic.cn/"):
                # pic_url may only be a link from media/uploadimg (which the sandbox does not serve).
                raise ApiError(40058, "image needs media_id, or a pic_url from media/uploadimg")
        elif msgtype in ("video", "file"):
            self._media_ok(corp, body.get("media_id"), purpose=purpose, media_type=msgtype)
        elif msgtype == "miniprogram":
            if purpose == "moment":
                raise ApiError(40008, "miniprogram not allowed in moments")
            self._media_ok(corp, body.get("pic_media_id"), purpose="message", media_type="image")
        elif msgtype == "link":
            if not str(body.get("url") or "").startswith(("http://", "https://")):
                raise ApiError(40058, "link.url invalid")
            if purpose == "moment" and body.get("media_id"):
                self._media_ok(corp, body.get("media_id"), purpose="moment", media_type="image")

    # -- Moments interactions --------------------------------------------------------------------
    def moment_interact(
        self,
        userid: str,
        external_userid: str,
        *,
        like: bool = False,
        comment: bool = False,
        moment_id: str = "",
        corp_id: str = "",
    ) -> dict[str, int]:
        """Control: a customer likes and/or comments the (latest) Moments post of member ``userid``."""
        with self.lock:
            corp = self.corp(corp_id)
            jobs = [j for j in corp.moments.values() if not moment_id or j["moment_id"] == moment_id]
            if not jobs:
                raise KeyError("no moment to interact with")
            job = jobs[-1]
            bucket = job.setdefault("interactions", {}).setdefault(userid, {"comment_list": [], "like_list": []})
            row = {"external_userid": external_userid, "create_time": int(self.now())}
            if like:
                bucket["like_list"].append(dict(row))
            if comment:
                bucket["comment_list"].append(dict(row))
            return {"likes": len(bucket["like_list"]), "comments": len(bucket["comment_list"])}

    def api_externalcontact__get_moment_comments(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        job = next((j for j in corp.moments.values() if j["moment_id"] == p.get("moment_id")), None)
        if job is None:
            raise ApiError(40058, "invalid moment_id")
        userid = str(p.get("userid") or "")
        if userid not in corp.members:
            raise ApiError(60111, "userid not found")
        bucket = (job.get("interactions") or {}).get(userid) or {"comment_list": [], "like_list": []}
        return {"comment_list": list(bucket["comment_list"]), "like_list": list(bucket["like_list"])}

    # -- 入群欢迎语素材 ----------------------------------------------------------------------------
    def _group_welcome_body(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        text = p.get("text") or {}
        content = str(text.get("content") or "")
        if len(content.encode()) > GROUP_WELCOME_TEXT_MAX_BYTES:
            raise ApiError(40058, f"text over {GROUP_WELCOME_TEXT_MAX_BYTES} bytes")
        body: dict[str, Any] = {"text": {"content": content}} if content else {}
        # Only one of the non-text types is used, in WeCom's order of precedence.
        for msgtype in ("image", "link", "miniprogram", "file", "video"):
            if p.get(msgtype):
                self.check_attachment(corp, msgtype, p[msgtype], purpose="message")
                body[msgtype] = p[msgtype]
                break
        if not body:
            raise ApiError(40058, "text, image, link, miniprogram, file or video required")
        return body

    def api_externalcontact__group_welcome_template__add(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        if len(corp.group_welcome_templates) >= GROUP_WELCOME_MAX:
            raise ApiError(40058, f"at most {GROUP_WELCOME_MAX} group welcome templates")
        body = self._group_welcome_body(corp, p)
        template_id = self._id("msg")
        corp.group_welcome_templates[template_id] = body
        return {"template_id": template_id}

    def _group_welcome(self, corp: Corp, p: dict[str, Any]) -> str:
        template_id = str(p.get("template_id") or "")
        if template_id not in corp.group_welcome_templates:
            raise ApiError(40058, "invalid template_id")
        return template_id

    def api_externalcontact__group_welcome_template__edit(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        template_id = self._group_welcome(corp, p)
        corp.group_welcome_templates[template_id] = self._group_welcome_body(corp, p)
        return {}

    def api_externalcontact__group_welcome_template__get(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return dict(corp.group_welcome_templates[self._group_welcome(corp, p)])

    def api_externalcontact__group_welcome_template__del(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        corp.group_welcome_templates.pop(self._group_welcome(corp, p))
        return {}
