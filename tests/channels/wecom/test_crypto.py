"""WXBizMsgCrypt: WeCom's official vectors (doc 90968) and interoperability with wechatpy 2.0."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work.crypto import WeChatCrypto

from channels.wecom.crypto import CryptoError, SignatureError, WXBizMsgCrypt, signature

# The official sample of 加解密方案说明 (developer.work.weixin.qq.com/document/path/90968).
TOKEN = "QDG6eK"
CORP_ID = "wx5823bf96d3bd56c7"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
POST = {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813", "nonce": "1372623149"}
POST_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo"
    "+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiS"
    "pGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3"
    "Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx"
    "4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+q"
    "N+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


@pytest.fixture
def crypt() -> WXBizMsgCrypt:
    return WXBizMsgCrypt(TOKEN, AES_KEY, CORP_ID)


def test_it_answers_the_official_url_verification_vector(crypt):
    assert crypt.verify_url(**VERIFY) == "1616140317555161061"


def test_it_decrypts_and_verifies_the_official_callback_vector(crypt):
    xml = crypt.decrypt_message(POST_BODY.encode(), **POST).decode()
    assert "<Content><![CDATA[hello]]></Content>" in xml
    assert "<MsgId>4561255354251345929</MsgId>" in xml
    assert "<ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>" in xml


def test_it_refuses_a_forged_signature(crypt):
    with pytest.raises(SignatureError):
        crypt.decrypt_message(POST_BODY.encode(), **{**POST, "msg_signature": "0" * 40})
    with pytest.raises(SignatureError):
        crypt.verify_url(**{**VERIFY, "nonce": "1"})


def test_it_refuses_a_message_for_another_corp():
    other = WXBizMsgCrypt(TOKEN, AES_KEY, "wwanothercorp")
    with pytest.raises(CryptoError, match="CorpID"):
        other.decrypt_message(POST_BODY.encode(), **POST)


def test_wechatpy_decrypts_what_we_encrypt_and_we_decrypt_what_it_encrypts(crypt):
    theirs = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    xml = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Event><![CDATA[change_external_contact]]></Event><State><![CDATA[门店A]]></State></xml>"
    body, query = crypt.encrypt_message(xml, nonce="12345", timestamp="1700000000")
    assert theirs.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"]) == xml
    their_body = theirs.encrypt_message(xml, "67890", "1700000001")
    import re

    sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", their_body).group(1)
    assert crypt.decrypt_message(their_body.encode(), sig, "1700000001", "67890").decode() == xml
    with pytest.raises(InvalidSignatureException):
        theirs.decrypt_message(body, "0" * 40, query["timestamp"], query["nonce"])


def test_padding_is_to_32_bytes_and_signature_sorts_its_parts(crypt):
    import base64

    for size in range(0, 70):
        encrypted = crypt.encrypt("x" * size)
        assert len(base64.b64decode(encrypted)) % 32 == 0
        assert crypt.decrypt(encrypted) == b"x" * size
    assert signature("b", "a", "d", "c") == signature("a", "b", "c", "d")
