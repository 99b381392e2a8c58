"""``authgate token PROVIDER``'s quick answer, given before Typer and Rich are imported: a bot
shells out for a token, often, and Typer alone (importing it and building the command tree)
was a third of the command's start-up.

It answers only the plainest command line — ``token PROVIDER`` with ``--owner`` and
``--config``/``-c`` at most once each — and only with a stored token that ``stored_token`` hands
out as it is, on the real clock, and only from settings whose sources are as they were when a
full command last validated them (``config_stamp``: pydantic is most of what remains). Everything
else goes to the Typer command, unchanged, which parses, validates, reports errors and takes the
vault's full way: ``--json`` (Rich prints it), ``--help``, anything it does not know, the tests'
shifted clock, a configuration not validated as it is now, no such connection, a token due for
refresh. So it never prints anything but the token, and never says no.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from authgate.clock import TEST_CLOCK_CONSENT_ENV, TEST_CLOCK_FILE_ENV, SystemClock
from authgate.vault.export import EXPORT_OWNER

_OPTIONS = {"--owner": "owner", "--config": "config", "-c": "config"}


@dataclass(frozen=True)
class PlainToken:
    provider: str
    owner: str | None
    config: Path | None


def plain_token_command(argv: Sequence[str]) -> PlainToken | None:
    """``argv`` (without the program) when it is a plain ``token`` command, else None."""
    if not argv or argv[0] != "token":
        return None
    provider: str | None = None
    given: dict[str, str] = {}
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        name, equals, value = arg.partition("=")
        if name in _OPTIONS and not (equals and name == "-c"):
            if not equals:
                if not rest:
                    return None
                value = rest.pop(0)
            key = _OPTIONS[name]
            if key in given or not value or value.startswith("-"):
                return None
            given[key] = value
        elif arg.startswith("-") or provider is not None:
            return None
        else:
            provider = arg
    if not provider:
        return None
    config = given.get("config")
    return PlainToken(provider, given.get("owner"), Path(config) if config else None)


def owner_when_unnamed(owners: list[str]) -> str | None:
    """Whose token ``token`` means without ``--owner`` (and no ``vault.default_owner``), among
    the provider's ``owners``, when that is plain: "default" (also when there is none: the full
    way then says there is no connection), or the only one. None: the full way decides."""
    if EXPORT_OWNER in owners or not owners:
        return EXPORT_OWNER
    return owners[0] if len(owners) == 1 else None


def answer_quickly(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Print the token and return True, or print nothing and return False."""
    command = plain_token_command(argv)
    if command is None or TEST_CLOCK_FILE_ENV in environ or TEST_CLOCK_CONSENT_ENV in environ:
        return False
    from authgate.config_sources import read_config_sources
    from authgate.config_stamp import recall
    from authgate.errors import ConfigError
    from authgate.private_files import private_umask
    from authgate.vault.stored_token import stored_token

    private_umask()  # as every command: whatever SQLite creates beside the database is private
    try:
        settings = recall(read_config_sources(command.config, environ))
    except ConfigError:
        return False
    if settings is None:  # not validated as they are now: the full way validates and records
        return False
    quick = stored_token(settings, command.provider,
                         command.owner or settings.default_owner, owner_when_unnamed,
                         SystemClock().now)
    if quick is None:
        return False
    print(quick.access_token)
    return True
