"""English and Russian strings of the sign-in pages."""

from __future__ import annotations

EN = {
    "login.title": "Sign in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.or": "or",
    "login.with": "Sign in with {provider}",
    "login.none": "No sign-in method is configured.",
    "login.signed_in_as": "You are signed in as {user}.",
    "login.signed_in_title": "You are signed in",
    "login.signed_out": "You are signed out.",
    "login.lang.en": "English",
    "login.lang.ru": "Русский",
    "login.error.invalid_credentials": "The username or password is wrong.",
    "login.error.too_many_attempts": "Too many failed attempts. Please try again in {wait}.",
    "login.error.busy": "The server is busy checking other sign-ins. Please try again in "
                        "{wait}.",
    "login.wait.seconds": "{n} second|{n} seconds",
    "login.wait.minutes": "{n} minute|{n} minutes",
    "login.error.account_disabled": "This account is disabled. Ask an administrator.",
    "login.error.password_disabled": "Password sign-in is turned off here.",
    "logout.title": "Sign out",
    "logout.done_here": "You are signed out here.",
    "logout.at_provider": "Sign out at {provider} too",
}

RU = {
    "login.title": "Вход",
    "login.username": "Имя пользователя",
    "login.password": "Пароль",
    "login.submit": "Войти",
    "login.or": "или",
    "login.with": "Войти через {provider}",
    "login.none": "Ни один способ входа не настроен.",
    "login.signed_in_as": "Вы вошли как {user}.",
    "login.signed_in_title": "Вы вошли",
    "login.signed_out": "Вы вышли.",
    "login.lang.en": "English",
    "login.lang.ru": "Русский",
    "login.error.invalid_credentials": "Неверное имя пользователя или пароль.",
    "login.error.too_many_attempts": "Слишком много неудачных попыток. Попробуйте снова через "
                                     "{wait}.",
    "login.error.busy": "Сервер занят проверкой других входов. Попробуйте снова через {wait}.",
    "login.wait.seconds": "{n} секунду|{n} секунды|{n} секунд",
    "login.wait.minutes": "{n} минуту|{n} минуты|{n} минут",
    "login.error.account_disabled": "Эта учётная запись отключена. Обратитесь к администратору.",
    "login.error.password_disabled": "Вход по паролю здесь отключён.",
    "logout.title": "Выход",
    "logout.done_here": "Здесь вы вышли.",
    "logout.at_provider": "Выйти и в {provider}",
}

MESSAGES = {"en": EN, "ru": RU}
