"""Test settings: the real settings, only faster (cheap password hashing)."""

from scrm.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
