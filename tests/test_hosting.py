"""Where the app may listen (turtle_id/hosting.py): without users, this machine only; and
app.py refusing a public host before it loads anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from turtle_id.hosting import check_host, is_loopback, logins_text
from turtle_id.users import Users, hash_password

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def users() -> Users:
    return Users({"ana": hash_password("a-long-password")})


def test_loopback_hosts_are_this_machine_only():
    for host in ("127.0.0.1", "127.0.1.1", "localhost", "LOCALHOST", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.20", "turtles.example.org", ""):
        assert not is_loopback(host), host


def test_without_users_only_a_loopback_host_is_allowed(users):
    check_host("127.0.0.1", None, environ={})
    check_host("0.0.0.0", users, environ={})
    with pytest.raises(ValueError, match="no users are configured") as refused:
        check_host("0.0.0.0", None, environ={})
    assert "TURTLE_ID_USERS=" in str(refused.value)
    assert "users add NAME --file FILE" in str(refused.value)


def test_a_hugging_face_space_without_users_is_told_to_add_the_secret(users):
    space = {"SPACE_ID": "rangers/turtle-id", "GRADIO_SERVER_NAME": "0.0.0.0"}
    with pytest.raises(ValueError, match="Hugging Face Space") as refused:
        check_host("0.0.0.0", None, environ=space)
    assert "secret TURTLE_ID_USERS" in str(refused.value)
    check_host("0.0.0.0", users, environ=space)


def test_the_startup_line_says_who_can_log_in(users):
    assert logins_text(users) == "logins for ana"
    assert logins_text(None).startswith("no logins (TURTLE_ID_USERS unset)")


def test_app_refuses_a_public_host_without_users_before_loading_the_gallery(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TURTLE_ID_USERS", "SPACE_ID")}
    env["GRADIO_SERVER_NAME"] = "0.0.0.0"  # as Hugging Face Spaces sets it
    done = subprocess.run(
        [sys.executable, "app.py", "--gallery", str(tmp_path / "gallery")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "--host 0.0.0.0 serves the app to other machines" in done.stderr
    assert "TURTLE_ID_USERS" in done.stderr
    assert not (tmp_path / "gallery").exists()  # refused before the gallery was opened
