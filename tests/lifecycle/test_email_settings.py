"""Email for lifecycle alerts is configured by environment variables; without them it goes to the console."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from governance.settings import email_settings

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_without_configuration_mail_goes_to_the_console():
    assert email_settings({}) == ("django.core.mail.backends.console.EmailBackend", {})


def test_an_email_url_names_server_credentials_and_tls():
    backend, values = email_settings({"EMAIL_URL": "smtp+tls://alerts%40example.com:p%40ss@mail.example.com"})
    assert backend == SMTP
    assert values == {
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "alerts@example.com",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }


def test_email_host_and_friends_work_too():
    backend, values = email_settings({"EMAIL_HOST": "mail", "EMAIL_PORT": "2525", "EMAIL_USE_TLS": "1"})
    assert backend == SMTP and values["EMAIL_PORT"] == 2525 and values["EMAIL_USE_TLS"] is True


def test_an_unknown_scheme_is_refused_at_start():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_settings({"EMAIL_URL": "http://mail"})
