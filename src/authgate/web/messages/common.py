"""Words every page shares: the frame, the language switch, the connect result."""

from __future__ import annotations

EN = {
    "app": "authgate",
    "language": "Language",
    "error.title": "Something went wrong",
    "error.back": "Back to the start",
    "error.code": "Error code",
    "connect.ok.title": "Connected",
    "connect.ok.body": "Your {provider} account {account} is connected. You can close this "
                       "page and go back to the bot.",
    "connect.ok.body_again": "Your {provider} account is connected. You can close this page "
                             "and go back to the bot.",
    "connect.fail.title": "Not connected",
    "connect.confirm.title": "Connect your {provider} account?",
    "connect.confirm.body": "Connect your {provider} account to {bot} for {owner}?",
    "connect.confirm.operator": "this server's administrator",
    "connect.confirm.note": "Only go on if you asked for this link yourself. The link works once.",
    "connect.confirm.button": "Connect {provider}",
    "nav.login": "Sign in",
    "nav.logout": "Sign out",
    "nav.console": "Console",
    "skip": "Skip to content",
}

RU = {
    "app": "authgate",
    "language": "Язык",
    "error.title": "Что-то пошло не так",
    "error.back": "Вернуться в начало",
    "error.code": "Код ошибки",
    "connect.ok.title": "Подключено",
    "connect.ok.body": "Ваш аккаунт {provider} {account} подключён. Эту страницу можно "
                       "закрыть и вернуться к боту.",
    "connect.ok.body_again": "Ваш аккаунт {provider} подключён. Эту страницу можно закрыть и "
                             "вернуться к боту.",
    "connect.fail.title": "Не подключено",
    "connect.confirm.title": "Подключить аккаунт {provider}?",
    "connect.confirm.body": "Подключить ваш аккаунт {provider} к {bot} для {owner}?",
    "connect.confirm.operator": "администратору этого сервера",
    "connect.confirm.note": "Продолжайте, только если вы сами запросили эту ссылку. Ссылка "
                            "действует один раз.",
    "connect.confirm.button": "Подключить {provider}",
    "nav.login": "Войти",
    "nav.logout": "Выйти",
    "nav.console": "Консоль",
    "skip": "Перейти к содержимому",
}

MESSAGES = {"en": EN, "ru": RU}
