"""Error pages in the reader's language: a sentence per error code a browser can meet, and one
per HTTP status for the rest.

English pages show the error's own ``detail`` (it names the provider, the field, …); other
languages show these sentences, and every page shows the machine-readable code.
"""

from __future__ import annotations

EN = {
    "error.status.400": "The request could not be used.",
    "error.status.401": "Please sign in first.",
    "error.status.403": "This is not allowed.",
    "error.status.404": "There is nothing at this address.",
    "error.status.405": "This address does not accept that method.",
    "error.status.409": "This cannot be done in the current state.",
    "error.status.429": "Too many attempts. Please wait a while and try again.",
    "error.status.500": "An unexpected error occurred. It has been logged.",
    "error.status.502": "The provider answered with an error.",
    "error.status.503": "The provider is not answering. Please try again later.",
    "error.code.csrf_failed": "This form has expired or was sent from another site. Please "
                              "reload the page and try again.",
    "error.code.foreign_origin": "This request must come from this site.",
    "error.code.admin_only": "This page is for administrators.",
    "error.code.role_required": "Your role does not allow this.",
    "error.code.session_audience": "This sign-in was made for another site. Please sign in "
                                   "again.",
    "error.code.account_disabled": "This account is disabled. Ask an administrator.",
    "error.code.invalid_state": "This sign-in link is not valid. Please start again.",
    "error.code.missing_state": "This sign-in link is not valid. Please start again.",
    "error.code.state_expired": "The sign-in took too long. Please start again.",
    "error.code.state_reused": "This sign-in was already completed. Please start again.",
    "error.code.state_browser_mismatch": "This sign-in was started in another browser. Please "
                                         "start again here.",
    "error.code.missing_code": "The provider sent no authorization code. Please start again.",
    "error.code.code_rejected": "The provider refused the authorization code. Please start "
                                "again.",
    "error.code.access_denied": "Access was not granted at the provider.",
    "error.code.invalid_id_token": "The provider's answer failed a security check.",
    "error.code.missing_connect_session": "This link is incomplete. Ask the bot for a new one.",
    "error.code.invalid_connect_session": "This link is not valid. Ask the bot for a new one.",
    "error.code.connect_session_used": "This link was already used. Ask the bot for a new one.",
    "error.code.connect_session_expired": "This link has expired. Ask the bot for a new one.",
    "error.code.unknown_provider": "No such provider is configured.",
    "error.code.not_found": "There is nothing at this address.",
    "error.code.needs_reauth": "The account must be connected again.",
    "error.code.provider_unavailable": "The provider is not answering. Please try again later.",
    "error.code.too_many_attempts": "Too many attempts. Please wait a while and try again.",
    "error.code.internal_error": "An unexpected error occurred. It has been logged.",
}

RU = {
    "error.status.400": "Запрос не удалось обработать.",
    "error.status.401": "Сначала войдите.",
    "error.status.403": "Это действие запрещено.",
    "error.status.404": "По этому адресу ничего нет.",
    "error.status.405": "Этот адрес не принимает такой метод.",
    "error.status.409": "Сейчас это сделать нельзя.",
    "error.status.429": "Слишком много попыток. Подождите и попробуйте снова.",
    "error.status.500": "Произошла непредвиденная ошибка. Она записана в журнал.",
    "error.status.502": "Провайдер ответил ошибкой.",
    "error.status.503": "Провайдер не отвечает. Попробуйте позже.",
    "error.code.csrf_failed": "Форма устарела или отправлена с другого сайта. Обновите страницу "
                              "и попробуйте снова.",
    "error.code.foreign_origin": "Этот запрос должен идти с этого сайта.",
    "error.code.admin_only": "Эта страница для администраторов.",
    "error.code.role_required": "Ваша роль не позволяет это сделать.",
    "error.code.session_audience": "Этот вход выдан для другого сайта. Войдите снова.",
    "error.code.account_disabled": "Эта учётная запись отключена. Обратитесь к администратору.",
    "error.code.invalid_state": "Ссылка для входа недействительна. Начните заново.",
    "error.code.missing_state": "Ссылка для входа недействительна. Начните заново.",
    "error.code.state_expired": "Вход занял слишком много времени. Начните заново.",
    "error.code.state_reused": "Этот вход уже завершён. Начните заново.",
    "error.code.state_browser_mismatch": "Вход начат в другом браузере. Начните заново здесь.",
    "error.code.missing_code": "Провайдер не прислал код авторизации. Начните заново.",
    "error.code.code_rejected": "Провайдер отклонил код авторизации. Начните заново.",
    "error.code.access_denied": "Доступ у провайдера не предоставлен.",
    "error.code.invalid_id_token": "Ответ провайдера не прошёл проверку безопасности.",
    "error.code.missing_connect_session": "Ссылка неполная. Попросите у бота новую.",
    "error.code.invalid_connect_session": "Ссылка недействительна. Попросите у бота новую.",
    "error.code.connect_session_used": "Ссылка уже использована. Попросите у бота новую.",
    "error.code.connect_session_expired": "Срок ссылки истёк. Попросите у бота новую.",
    "error.code.unknown_provider": "Такой провайдер не настроен.",
    "error.code.not_found": "По этому адресу ничего нет.",
    "error.code.needs_reauth": "Аккаунт нужно подключить заново.",
    "error.code.provider_unavailable": "Провайдер не отвечает. Попробуйте позже.",
    "error.code.too_many_attempts": "Слишком много попыток. Подождите и попробуйте снова.",
    "error.code.internal_error": "Произошла непредвиденная ошибка. Она записана в журнал.",
}

MESSAGES = {"en": EN, "ru": RU}
