"""Settings of the test project: what docs/django.md tells a user to copy, plus test-only bits."""
from __future__ import annotations

import os
import tempfile

from logkit.integrations.django import logging_settings

SECRET_KEY = "test-only-key-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "tests.django_project.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]

MIDDLEWARE = [
    # First: its duration covers the whole stack and it sees every response.
    "logkit.integrations.django.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Test-only: raises for /mw-boom/, an exception the view's process_exception never sees.
    "tests.django_project.middleware.ExplodingMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("LOGKIT_TEST_DJANGO_DB")
        or os.path.join(tempfile.gettempdir(), f"logkit-django-test-{os.getpid()}.sqlite3"),
    }
}

# The client ip comes from X-Forwarded-For only when the peer is one of these.
LOGKIT_CLIENT_IP_HEADER = "X-Forwarded-For"
LOGKIT_TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]

LOGGING = logging_settings("shop-web", environment="test")
