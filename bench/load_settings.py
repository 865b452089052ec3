"""Settings for the load benchmark's gunicorn: the real settings plus the bare baseline view."""

from scrm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_site"
