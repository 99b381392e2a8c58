"""The token file for older scripts: the seed's token.json shape, without the refresh token.

Only the access token leaves the vault: whoever reads the file cannot burn the single-use refresh
token. The file follows the connection whose owner is ``default`` (the one ``authgate connect hh``
makes without ``--owner``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from authgate.private_files import write_private_file

EXPORT_OWNER = "default"


def token_file_content(*, access_token: str, token_type: str, expires_at: datetime | None,
                       now: datetime) -> bytes:
    expires_in = max(0, int((expires_at - now).total_seconds())) if expires_at else None
    body = {
        "access_token": access_token,
        "token_type": token_type,
        "expires_in": expires_in,
        "expires_at": int(expires_at.timestamp()) if expires_at else None,
    }
    return (json.dumps(body, indent=2) + "\n").encode()


def export_token(path: Path, *, access_token: str, token_type: str,
                 expires_at: datetime | None, now: datetime) -> None:
    write_private_file(path, token_file_content(access_token=access_token, token_type=token_type,
                                                expires_at=expires_at, now=now))
