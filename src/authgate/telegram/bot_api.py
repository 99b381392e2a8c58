"""Calling the Telegram Bot API: ``sendMessage`` and ``getMe``, each answer classified.

``{api_base}/bot<token>/<method>`` carries the bot's token in its path, so no URL of this module
ever reaches a log line or an outcome: failures are described by Telegram's own ``description``
(which never holds the token) or by the exception's type.

What an answer means for a message (as the Bot API documents it):
* ``{"ok": true}`` — delivered;
* 429 — flood control: try again after ``parameters.retry_after`` seconds;
* 403 (the user blocked the bot, deleted the account, the bot was kicked) and 400 (chat not
  found, a malformed message) — nothing will change by retrying: permanent for this message;
* 401/404 (the token is wrong or was revoked), 5xx, other answers and network failures — the
  bot's or Telegram's problem, not the chat's: retried, so that messages wait for a fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from authgate.telegram.message import ChatMessage

OutcomeKind = Literal["delivered", "retry", "permanent"]
_MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class SendOutcome:
    kind: OutcomeKind
    # Telegram's words (or the network failure's type), for the delivery log; never a URL.
    detail: str = ""
    status: int | None = None
    retry_after: float | None = None
    message_id: int | None = None


@dataclass(frozen=True)
class BotIdentity:
    id: int
    username: str
    first_name: str

    @property
    def display_name(self) -> str:
        return f"@{self.username}" if self.username else self.first_name


class BotApi:
    def __init__(self, http: httpx.AsyncClient, api_base: str, token: str) -> None:
        self._http = http
        self._base = api_base.rstrip("/")
        self._token = token

    def __repr__(self) -> str:  # the token stays out of any repr that may be logged
        return f"BotApi(api_base={self._base!r})"

    async def send_message(self, message: ChatMessage) -> SendOutcome:
        body: dict[str, Any] = {"chat_id": message.chat_id, "text": message.text}
        if message.buttons:
            body["reply_markup"] = {"inline_keyboard": [
                [{"text": b.text, "url": b.url}] for b in message.buttons]}
        try:
            response = await self._http.post(self._url("sendMessage"), json=body)
        except httpx.HTTPError as exc:
            return SendOutcome("retry", detail=f"network: {type(exc).__name__}")
        return classify(response.status_code, _json(response))

    async def get_me(self) -> BotIdentity | None:
        """The bot's own account, or None when Telegram does not answer it."""
        try:
            response = await self._http.get(self._url("getMe"))
        except httpx.HTTPError:
            return None
        result = _json(response).get("result")
        if response.status_code != 200 or not isinstance(result, dict) \
                or not isinstance(result.get("id"), int):
            return None
        return BotIdentity(id=result["id"], username=str(result.get("username") or ""),
                           first_name=str(result.get("first_name") or ""))

    def _url(self, method: str) -> str:
        return f"{self._base}/bot{self._token}/{method}"


def classify(status: int, body: dict[str, Any]) -> SendOutcome:
    """What one ``sendMessage`` answer means for the message (see the module's docstring)."""
    description = str(body.get("description") or "")[:_MAX_DESCRIPTION]
    if status == 200 and body.get("ok") is True:
        result = body.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return SendOutcome("delivered", status=status,
                           message_id=message_id if isinstance(message_id, int) else None)
    if status == 429:
        parameters = body.get("parameters")
        wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
        retry_after = float(wait) if isinstance(wait, int | float) and wait >= 0 else None
        return SendOutcome("retry", detail=description or "Too Many Requests", status=status,
                           retry_after=retry_after)
    if status in (400, 403):
        return SendOutcome("permanent", detail=description or f"HTTP {status}", status=status)
    if status in (401, 404):
        return SendOutcome("retry", status=status,
                           detail=f"the bot token was refused ({description or status})")
    return SendOutcome("retry", detail=description or f"HTTP {status}", status=status)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
