"""Logins for hosted use: who may change the gallery, checked against salted scrypt hashes.

Users come from $TURTLE_ID_USERS: either pairs, `ana:secret,ben:other` (for a quick start; the
passwords are hashed on load and never kept), or the path of a users file with one
`name:scrypt$...` line per user, as `python -m turtle_id users add NAME --file FILE` writes
it. A users file never holds a plain password. Without users, the app must serve on localhost
only.

    users = load_users()
    gr.Blocks(...).launch(auth=users.verify if users else None)
"""

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

USERS_ENV = "TURTLE_ID_USERS"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8  # characters


@dataclass(frozen=True)
class ScryptSettings:
    # RFC 7914 parameters: n (CPU/memory cost, a power of 2), r (block size), p (parallelism);
    # n=2**14, r=8 takes ~30-60 ms and 16 MiB per check: cheap for a login, costly to guess.
    n: int = 2**14
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    key_bytes: int = 32


def hash_password(password: str, settings: ScryptSettings = ScryptSettings()) -> str:
    """`scrypt$n$r$p$salt$key` (hex), with a fresh random salt."""
    salt = secrets.token_bytes(settings.salt_bytes)
    key = _scrypt(password, salt, settings.n, settings.r, settings.p, settings.key_bytes)
    return f"scrypt${settings.n}${settings.r}${settings.p}${salt.hex()}${key.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash_password() string (constant-time compare)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(key)
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, OverflowError):  # a malformed hash, or parameters scrypt refuses
        return False
    return hmac.compare_digest(got, expected)


class Users:
    """Named users and their password hashes."""

    def __init__(self, hashes: Mapping[str, str]):
        if not hashes:
            raise ValueError("no users given: add at least one name:password")
        self._hashes = dict(hashes)
        # Checked for unknown names too, so a login's time does not tell whether a name exists.
        self._decoy = hash_password(secrets.token_hex(8))

    @property
    def names(self) -> list[str]:
        return sorted(self._hashes)

    def verify(self, name: str, password: str) -> bool:
        """True when `name` is a user and `password` is theirs; Gradio's `auth=` callable."""
        stored = self._hashes.get(str(name or "").strip())
        matches = check_password(str(password or ""), stored or self._decoy)
        return matches and stored is not None


def load_users(environ: Mapping[str, str] = os.environ) -> Users | None:
    """The users $TURTLE_ID_USERS names (a file path, or name:password pairs), or None when
    it is unset or blank: then no one logs in and the app must stay on localhost."""
    value = (environ.get(USERS_ENV) or "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        return Users(read_users_file(path))
    if ":" not in value:
        raise ValueError(
            f"${USERS_ENV}={value!r} is neither a users file nor name:password pairs: give the "
            "path of a file made by `python -m turtle_id users add`, or ana:secret,ben:other"
        )
    return Users(parse_pairs(value))


def parse_pairs(text: str) -> dict[str, str]:
    """`ana:secret,ben:other` (commas or newlines) to name -> password hash."""
    hashes = {}
    for item in (part.strip() for part in re.split(r"[,\n]", text)):
        if not item:
            continue
        name, sep, password = item.partition(":")
        name = check_name(name)
        if not sep or not password:
            raise ValueError(f"user {name!r} has no password: write {name}:PASSWORD")
        if name in hashes:
            raise ValueError(f"user {name!r} is given twice: keep one")
        hashes[name] = password if password.startswith("scrypt$") else hash_password(password)
    return hashes


def read_users_file(path: Path) -> dict[str, str]:
    """`name:scrypt$...` lines; blank lines and `#` comments are skipped."""
    hashes = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, stored = line.partition(":")
        where = f"{path} line {number}"
        if not stored.startswith("scrypt$") or stored.count("$") != 5:
            raise ValueError(
                f"{where}: the password of {name.strip()!r} is not a scrypt hash (plain "
                f"passwords are not kept): run `python -m turtle_id users add {name.strip()} "
                f"--file {path}`"
            )
        hashes[check_name(name)] = stored
    return hashes


def add_user(path: Path, name: str, password: str) -> None:
    """Add `name` to a users file, or give it a new password; the file holds hashes only."""
    name = check_name(name)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password is {len(password)} characters: use at least {MIN_PASSWORD}")
    path = Path(path)
    hashes = read_users_file(path) if path.is_file() else {}
    hashes[name] = hash_password(password)
    lines = ["# Turtle ID users: name:scrypt hash (python -m turtle_id users add NAME)"]
    lines += [f"{n}:{h}" for n, h in sorted(hashes.items())]
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Readable by the owner only: hashes are slow to guess, not impossible.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise ValueError(
            f"user name {name!r} must start with a letter or digit and be at most 64 of: "
            "letters, digits, '.', '_', '@', '-'"
        )
    return name


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # maxmem above OpenSSL's 32 MiB default: n=2**14, r=8 needs 16 MiB, larger n more.
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * 2**20
    )
