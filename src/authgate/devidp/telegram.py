"""HTTP face of the Telegram Bot API look-alike (mounted at /telegram), and the "chat" pages.

``POST {base}/telegram/bot<token>/sendMessage`` and ``getMe`` answer like api.telegram.org, so a
bot pointed at ``api_base = "{base}/telegram"`` needs no other change. ``/telegram/chats/<id>``
shows what a user of that chat would see: each message with its inline buttons as links.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.devidp.options import TelegramOptions
from authgate.devidp.pages import render
from authgate.devidp.telegram_model import (
    BotApiError,
    TelegramModel,
    parse_chat_id,
    parse_inline_keyboard,
    parse_text,
)


async def _parameters(request: Request) -> dict[str, Any]:
    """A method's parameters: a JSON body, a form, or the query string, as the Bot API takes."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise BotApiError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise BotApiError(400, "Bad Request: request body must be an object")
        params.update(body)
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    markup = params.get("reply_markup")
    if isinstance(markup, str):  # form and query carry it as JSON text
        try:
            params["reply_markup"] = json.loads(markup)
        except ValueError:
            raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON "
                                   "object") from None
    return params


class TelegramEndpoints:
    def __init__(self, options: TelegramOptions, model: TelegramModel) -> None:
        self.options = options
        self.model = model

    def routes(self) -> list[Route]:
        return [
            Route("/bot{token}/{method}", self.method, methods=["GET", "POST"]),
            Route("/chats", self.chats_page, methods=["GET"]),
            Route("/chats/{chat_id:int}", self.chat_page, methods=["GET"]),
        ]

    @property
    def bot_user(self) -> dict[str, Any]:
        return {"id": self.options.bot_id, "is_bot": True,
                "first_name": self.options.first_name, "username": self.options.username}

    async def method(self, request: Request) -> Response:
        try:
            if not hmac.compare_digest(request.path_params["token"].encode(),
                                       self.options.bot_token.encode()):
                raise BotApiError(401, "Unauthorized")
            # Method names are case-insensitive on api.telegram.org.
            name = request.path_params["method"].lower()
            if name == "getme":
                return JSONResponse({"ok": True, "result": {
                    **self.bot_user, "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}})
            if name == "sendmessage":
                return JSONResponse({"ok": True, "result": self._send(await _parameters(request))})
            raise BotApiError(404, "Not Found")
        except BotApiError as err:
            return JSONResponse(err.body(), status_code=err.status)

    def _send(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = parse_chat_id(params.get("chat_id"))
        text = parse_text(params.get("text"))
        keyboard = parse_inline_keyboard(params.get("reply_markup"))
        sent = self.model.send(chat_id, text, keyboard)
        result: dict[str, Any] = {
            "message_id": sent.message_id, "from": self.bot_user,
            "chat": {"id": chat_id, "type": "private"}, "date": sent.date, "text": text}
        if keyboard:
            result["reply_markup"] = {"inline_keyboard": sent.to_dict()["inline_keyboard"]}
        return result

    async def chats_page(self, request: Request) -> Response:
        chats = [(chat_id, len(self.model.chat(chat_id)), self.model.faults.get(chat_id))
                 for chat_id in self.model.chat_ids()]
        return render(request, "telegram_chats.html", {
            "title": "Telegram look-alike", "bot": self.bot_user, "chats": chats})

    async def chat_page(self, request: Request) -> Response:
        chat_id = request.path_params["chat_id"]
        return render(request, "telegram_chat.html", {
            "title": f"Chat {chat_id}", "bot": self.bot_user, "chat_id": chat_id,
            "messages": self.model.chat(chat_id), "fault": self.model.faults.get(chat_id)})
