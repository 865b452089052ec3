"""gunicorn's configuration (``gunicorn -c python:scrm.gunicorn_conf scrm.wsgi``): used by ``make run``
(scrm/launcher.py) and the Docker image.

The access log is the one log Django's ``LOGGING`` never sees, so it is configured here to go
through the same :class:`scrm.logging.RedactFilter` and JSON formatter as every other log line — and
its format carries the path only: no query string (``?q=<phone>``, ``?next=…``), no referer (a
previous page's query string), no basic-auth user name.
"""

from __future__ import annotations

import os

accesslog = "-"
errorlog = "-"
# remote address, "METHOD /path HTTP/x", status, bytes, seconds, user agent — never %(r)s, %(q)s, %(f)s.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s"'

_FILTERS = {"redact": {"()": "scrm.logging.RedactFilter"}}
_JSON = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
}

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": _FILTERS,
    "formatters": {"json": _JSON},
    "handlers": {
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["redact"],
            "stream": "ext://sys.stdout",
        },
        "error": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["redact"],
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"level": os.environ.get("LOG_LEVEL", "INFO"), "handlers": ["error"]},
    "loggers": {
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
    },
}
