"""What a file is, by its magic number (pure; shared by the material library and the WeCom sandbox)."""

from __future__ import annotations


def sniff(data: bytes) -> str:
    """``jpg``, ``png``, ``mp4``, ``amr`` or ``""`` from the first bytes of ``data``."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data[:6] == b"#!AMR\n":
        return "amr"
    return ""
