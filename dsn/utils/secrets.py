"""Passwords never reach a file or a log: storage URLs are written with the password masked.

A sweep's study storage is an SQLAlchemy URL that may carry a password
(``postgresql://user:pass@host/db`` or ``...?password=pass``). Hydra records the command's
overrides in every saved config and dsn logs where its study lives; both go through
:func:`redact`. The password-free way needs none of it: libpq reads ``~/.pgpass`` or
``PGPASSWORD`` when the URL has no password.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@  (the password may be empty; it ends at the last '@' before the host)
_USERINFO = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^:/@\s'\"]*):(?P<pw>[^\s'\"/]*)@")
# ?password=... or &password=... in a query string
_QUERY = re.compile(r"(?P<head>[?&](?:password|pass|pwd)=)(?P<pw>[^&\s'\"]*)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL password replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@" if m["pw"] else m[0], text)
    return _QUERY.sub(lambda m: f"{m['head']}{MASK}" if m["pw"] else m[0], text)


def passwords(text: str) -> list[str]:
    """The passwords written in ``text``'s URLs (what :func:`redact` masks)."""
    return [m["pw"] for m in _USERINFO.finditer(text) if m["pw"]] + [m["pw"] for m in _QUERY.finditer(text) if m["pw"]]
