"""Telegram: asking a ``tg:<chat_id>`` owner, in their chat, to connect again."""
