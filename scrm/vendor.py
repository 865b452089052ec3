"""Install the console's front-end assets from the npm registry, verified, into ``static/vendor/``.

Static assets come from a package registry at install time and are served by the app itself (no CDN
at run time: the product must work in mainland China and offline). Only Python is needed: each
package is one pinned tarball, checked against its registry integrity hash before anything is
extracted. Run by ``make`` (``python -m scrm.vendor``); a no-op when the files are already there.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
TARGET = Path(__file__).resolve().parent.parent / "static" / "vendor"

# package, version, sha512 integrity (from the registry's dist.integrity), {path in tarball: file name}
PACKAGES = [
    (
        "echarts",
        "5.6.0",
        "oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8Fa3kA==",
        {"package/dist/echarts.min.js": "echarts.min.js", "package/LICENSE": "echarts.LICENSE"},
    ),
    (
        "htmx.org",
        "2.0.8",
        "fm297iru0iWsNJlBrjvtN7V9zjaxd+69Oqjh4F/Vq9Wwi2kFisLcrLCiv5oBX0KLfOX/zG8AUo9ROMU5XUB44Q==",
        {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "htmx.LICENSE"},
    ),
    (
        # WeCom's own JS-SDK (MIT, per its package.json): ww.register / ww.getCurExternalContact.
        "@wecom/jssdk",
        "2.4.4",
        "CoMxyTvlpR2sz+KC+0kfnbdJj19EjJg7HAU/52LUW6dPUDEvW3NV40LNhWUnvqFg49y3zJswyGVFeraDcKc0Kw==",
        {"package/dist/wecom.global.prod.js": "wecom-jssdk.min.js", "package/package.json": "wecom-jssdk.package.json"},
    ),
]


def install(target: Path = TARGET) -> list[str]:
    target.mkdir(parents=True, exist_ok=True)
    installed = []
    for name, version, integrity, files in PACKAGES:
        stamp = target / f".{name.replace('/', '_')}-{version}"
        if stamp.exists() and all((target / out).exists() for out in files.values()):
            continue
        url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - fixed https registry URL
            blob = response.read()
        digest = base64.b64encode(hashlib.sha512(blob).digest()).decode()
        if digest != integrity:
            raise SystemExit(f"{name}@{version}: integrity mismatch (got sha512-{digest}); refusing to install.")
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
            for member_path, out_name in files.items():
                member = archive.extractfile(member_path)
                if member is None:
                    raise SystemExit(f"{name}@{version}: {member_path} missing from the package.")
                (target / out_name).write_bytes(member.read())
        stamp.write_text(integrity)
        installed.append(f"{name}@{version}")
    return installed


if __name__ == "__main__":
    done = install()
    print("vendor assets:", ", ".join(done) if done else "up to date", file=sys.stderr)
