import stat

import pytest

from turtle_id.users import (
    ScryptSettings,
    Users,
    add_user,
    check_password,
    hash_password,
    load_users,
    read_users_file,
)

FAST = ScryptSettings(n=2**4)  # the same code path, cheap enough for a unit test


def test_a_hash_is_salted_and_checks_only_its_own_password():
    first, second = hash_password("sea turtle", FAST), hash_password("sea turtle", FAST)
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$16$8$1$") and "sea turtle" not in first
    assert check_password("sea turtle", first) and check_password("sea turtle", second)
    assert not check_password("sea turtles", first)
    assert not check_password("sea turtle", "scrypt$16$8$1$zz$00")  # malformed: no, no crash
    assert not check_password("sea turtle", "plain")


def test_users_from_pairs_in_the_environment_are_hashed_and_verified():
    users = load_users({"TURTLE_ID_USERS": "ana:green-flipper, ben:loggerhead1"})
    assert users.names == ["ana", "ben"]
    assert users.verify("ana", "green-flipper")
    assert users.verify(" ben ", "loggerhead1")
    assert not users.verify("ana", "loggerhead1")
    assert not users.verify("carl", "green-flipper")
    assert not users.verify(None, None)
    assert "green-flipper" not in repr(users.__dict__)  # only hashes are kept


def test_no_users_configured_means_no_login():
    assert load_users({}) is None
    assert load_users({"TURTLE_ID_USERS": "  "}) is None


def test_a_users_file_holds_hashes_only_and_is_private(tmp_path):
    path = tmp_path / "users.txt"
    add_user(path, "ana", "green-flipper")
    add_user(path, "ben", "loggerhead1")
    add_user(path, "ana", "new-password")  # a new password replaces the old
    text = path.read_text()
    assert "green-flipper" not in text and "new-password" not in text
    assert [line.split(":")[0] for line in text.splitlines()[1:]] == ["ana", "ben"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = load_users({"TURTLE_ID_USERS": str(path)})
    assert users.verify("ana", "new-password") and not users.verify("ana", "green-flipper")


def test_a_plain_password_in_a_users_file_is_refused_with_the_command_to_fix_it(tmp_path):
    path = tmp_path / "users.txt"
    path.write_text("# rangers\nana:green-flipper\n")
    with pytest.raises(ValueError, match=r"line 2: the password of 'ana' is not a scrypt hash"):
        read_users_file(path)


@pytest.mark.parametrize(
    "value, message",
    [
        ("ana", "neither a users file nor name:password pairs"),
        ("ana:", "has no password"),
        ("a b:pw", "user name 'a b'"),
        ("ana:x,ana:y", "given twice"),
    ],
)
def test_bad_user_settings_say_what_to_write(value, message):
    with pytest.raises(ValueError, match=message):
        load_users({"TURTLE_ID_USERS": value})


def test_short_passwords_and_empty_user_lists_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 8"):
        add_user(tmp_path / "u.txt", "ana", "short")
    with pytest.raises(ValueError, match="no users"):
        Users({})
