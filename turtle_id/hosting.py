"""Where the app may listen: a gallery anyone can change is served to this machine only.

With users configured ($TURTLE_ID_USERS, see turtle_id/users.py) every page needs a login and
the audit trail names who made each change. Without them nobody logs in, so the app must not
be reachable from other machines: a non-loopback host is refused, saying how to add users.

    check_host(args.host, load_users())  # ValueError with the fix, before anything starts
"""

import ipaddress
import os
from collections.abc import Mapping

from turtle_id.users import USERS_ENV, Users

# Hugging Face Spaces sets SPACE_ID in every Space, and GRADIO_SERVER_NAME=0.0.0.0 so that
# its proxy reaches the app: there the host is never loopback.
SPACE_ENV = "SPACE_ID"


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only: localhost, 127.x.x.x or ::1."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def check_host(host: str, users: Users | None, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse to serve a gallery without logins beyond this machine (ValueError, with how to
    configure users); nothing to check with users, or on a loopback host."""
    if users is not None or is_loopback(host):
        return
    pairs = f"{USERS_ENV}=ana:a-long-password,ben:another-one"
    if environ.get(SPACE_ENV):
        raise ValueError(
            f"this is a Hugging Face Space ({SPACE_ENV}={environ[SPACE_ENV]}), served to "
            f"everyone on {host}, and no users are configured: anyone could change the gallery. "
            f"Add the secret {USERS_ENV} in the Space's Settings > Variables and secrets, as "
            "name:password pairs (ana:a-long-password,ben:another-one), then restart the Space"
        )
    raise ValueError(
        f"--host {host} serves the app to other machines, but no users are configured: anyone "
        f"could change the gallery. Set {pairs}, or {USERS_ENV}=FILE made by "
        "`python -m turtle_id users add NAME --file FILE`; or serve on 127.0.0.1"
    )


def logins_text(users: Users | None) -> str:
    """What the startup line says about logins."""
    if users is None:
        return f"no logins ({USERS_ENV} unset): this machine only"
    return f"logins for {', '.join(users.names)}"
