"""Configuration: one TOML file, overridden from the environment, validated strictly.

Order of precedence (highest first): ``AUTHGATE_<KEY>`` / ``AUTHGATE_<SECTION>__<KEY>`` environment
variables, the TOML file, the defaults below. A secret may be given as ``<key>_file``: the path of a
file holding it. Unknown keys and bad values raise ``ConfigError`` naming the key and the file.
Reading and merging the sources is ``config_sources``; this module is the models that validate.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from authgate.config_sources import DEFAULT_DATA_DIR, ConfigSources, read_config_sources
from authgate.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|[smhd])\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """``"250ms"``, ``"90s"``, ``"15m"``, ``"12h"``, ``"7d"``, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError('expected a duration like "90s", "15m", "12h" or "7d"')


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """Replace ``<key>_file = "/path"`` by ``<key> = <file content>`` for known keys."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            base = key[: -len("_file")] if key.endswith("_file") else None
            if base and base in cls.model_fields and key not in cls.model_fields:
                try:
                    out[base] = Path(str(value)).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(f"cannot read {key} {value!r}: {exc.strerror}") from None
                del out[key]
        return out


class KeyringSettings(_Section):
    # Set: the data keys live in the database, wrapped by this key, and every replica reads
    # them (give the same value to each; ``master_key_file`` = a path holding it). Unset: the
    # keys live in data_dir/keyring.json (one machine).
    master_key: str = ""

    @field_validator("master_key")
    @classmethod
    def _master_key(cls, value: str) -> str:
        if value:
            from authgate.keyring import parse_master_key

            parse_master_key(value)
        return value


class SessionSettings(_Section):
    lifetime: Duration = timedelta(days=7)
    cookie_name: str = "authgate_session"
    # Written by the gateway, read by nginx's verify cache (see signin/verdict_epoch.py);
    # default data_dir/verify-epoch. nginx's user must be able to read it, or nginx caches nothing.
    verify_epoch_file: Path | None = None


class LoginSettings(_Section):
    password: bool = True
    default_role: str = "user"
    allowed_redirects: list[str] = Field(default_factory=list)
    # Failed password attempts allowed per window, per IP and per username, before 429.
    max_failures: int = Field(default=5, ge=1)
    failure_window: Duration = timedelta(minutes=15)
    # Password checks running at once (argon2: 64 MiB each); 0 sizes it to the memory available.
    parallel_checks: int = Field(default=0, ge=0, le=256)

    @field_validator("allowed_redirects")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [_origin(v) for v in value]


class VaultSettings(_Section):
    refresh_concurrency: int = Field(default=16, ge=1, le=1000)
    # How long before expiry "ahead" providers refresh, and the random spread added to it.
    refresh_ahead: Duration = timedelta(minutes=5)
    refresh_jitter: Duration = timedelta(seconds=60)
    http_timeout: Duration = timedelta(seconds=15)
    connect_link_lifetime: Duration = timedelta(minutes=30)
    # How often the refresh engine looks for connections that fell due when it has nothing to
    # do (the outbox's delivery worker looks for due messages twice as often): a refresh starts
    # at most this late. Shorter costs an idle database more queries.
    poll_interval: Duration = timedelta(seconds=1)
    # The owner `authgate token PROVIDER` means without --owner (empty: see the command's help).
    default_owner: str = ""

    @field_validator("poll_interval")
    @classmethod
    def _poll_interval(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=50) <= value <= timedelta(minutes=1):
            raise ValueError("expected a duration from 50ms to 1m")
        return value


class ProxySettings(_Section):
    """``/api/v1/proxy/{provider}/{owner}/{path}``: calls to a provider's API through authgate."""

    # The largest request body forwarded, and the largest response body passed back (bytes).
    max_request_body: int = Field(default=1_048_576, ge=1024)
    max_response_body: int = Field(default=16_777_216, ge=1024)
    # Requests per API key: ``burst`` at once, then ``rate`` a second (in memory, per process).
    rate: float = Field(default=10.0, gt=0)
    burst: int = Field(default=40, ge=1)
    # A 429/503 whose Retry-After is at most this is waited out and retried once; a longer one
    # is passed back to the bot as it came.
    max_retry_after: Duration = timedelta(seconds=5)


# The presets' rules are data, in ``providers/presets.py``.
PresetKind = Literal["google", "github", "yandex", "vk", "superjob"]
ProviderKind = Literal["oidc", "oauth2", "hh", PresetKind]
# Presets whose token endpoint wants the client secret (VK ID's public clients need none;
# SuperJob's secret is also its X-Api-App-Id header).
SECRET_PRESETS = frozenset({"google", "github", "yandex", "superjob"})


_BOT_TOKEN = re.compile(r"\A[0-9]{1,20}:[A-Za-z0-9_-]{20,100}\Z")


class TelegramSettings(_Section):
    """``[telegram]``: a bot that asks ``tg:<chat_id>`` owners to connect again."""

    # The token @BotFather gave (``123456:ABC-...``); best as bot_token_file. It goes into every
    # Bot API URL, so neither it nor such a URL is ever logged or put into an error message.
    bot_token: SecretStr
    api_base: str = "https://api.telegram.org"
    # The language of an owner who never opened a page of ours (see the connection's language).
    default_language: Literal["en", "ru"] = "en"
    # One chat gets at most one message per this interval; later ones wait their turn.
    chat_interval: Duration = timedelta(minutes=1)
    # A chat message is often read later than a web page: its connect link lives longer.
    link_lifetime: Duration = timedelta(hours=24)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _BOT_TOKEN.fullmatch(value.get_secret_value()):
            # Never echo the value: it is a secret even when malformed.
            raise ValueError('expected a bot token like "123456:ABC-DEF..." from @BotFather')
        return value

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment:
            raise ValueError("expected scheme://host[/path], like https://api.telegram.org")
        return value.rstrip("/")


class WebhookSettings(_Section):
    """One ``[[webhooks]]`` table: an endpoint the operator keeps in the file (read-only in the
    console and the CLI)."""

    url: str
    # "whsec_<base64>" (Standard Webhooks); give it as secret_file = "/path".
    secret: str = Field(min_length=1)
    # Event types to send; empty or ["*"]: all but the opt-in connection.refreshed.
    events: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_webhook_url(value)

    # The secret's form and the event names are checked when the endpoints are built
    # (``webhooks.endpoints``), by the modules that define them.


def check_webhook_url(value: str) -> str:
    """An absolute http(s) URL without credentials, or ValueError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("a webhook URL may not hold a user or password; the signature "
                         "authenticates the sender")
    return value


ProviderUse = Literal["login", "connect"]


class ProviderSettings(_Section):
    kind: ProviderKind
    display_name: str = ""
    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: list[str] | None = None
    use: list[ProviderUse] = Field(default_factory=list)
    roles_claim: str = ""
    roles_map: dict[str, str] = Field(default_factory=dict)
    user_agent: str = ""
    export_file: Path | None = None
    callback_path: str = ""
    authorize_url: str = ""
    token_url: str = ""
    # Where refresh requests go, when not to token_url (SuperJob has an endpoint of its own).
    refresh_url: str = ""
    api_base: str = ""
    userinfo_url: str = ""
    pkce: bool = True
    refresh: Literal["ahead", "after_expiry"] = "ahead"
    # RP-initiated logout: "get" redirects without id_token_hint (no token in a URL; the
    # provider finds its session by its own cookie and may ask to confirm); "post" sends a form
    # carrying id_token_hint, for providers that accept POST there (node oidc-provider does not
    # by default, and a cross-site POST carries no SameSite=Lax cookie of the provider's).
    end_session_method: Literal["get", "post"] = "get"
    # Pass on every email this provider gives, not only those it marks email_verified (for
    # issuers that verify all addresses but do not say so, like some ZITADEL setups).
    trust_email: bool = False
    # Path prefixes under api_base that the proxy forwards (["/me", "/vacancies"]); empty: all.
    proxy_paths: list[str] = Field(default_factory=list)

    @field_validator("proxy_paths")
    @classmethod
    def _proxy_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            segments = path.split("/")[1:]
            if (not path.startswith("/") or "\\" in path or "%" in path or "?" in path
                    or any(s in ("", ".", "..") for s in segments[:-1])
                    or segments[-1] in (".", "..")):
                raise ValueError(f"{path!r}: a path under api_base like \"/vacancies\"")
        return [p.rstrip("/") or "/" for p in value]

    @model_validator(mode="before")
    @classmethod
    def _default_use(cls, data: Any) -> Any:
        # An OIDC issuer is usually for signing in; an API provider is for connecting accounts.
        if isinstance(data, dict) and "use" not in data:
            return {**data, "use": ["login"] if data.get("kind") == "oidc" else ["connect"]}
        return data

    @field_validator("callback_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.startswith("//")):
            raise ValueError("must be a path starting with a single /")
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> ProviderSettings:
        if not self.client_id:
            raise ValueError("client_id is required")
        if self.kind == "oidc" and not self.issuer:
            raise ValueError("an oidc provider needs issuer")
        if self.kind == "oauth2" and not (self.authorize_url and self.token_url):
            raise ValueError("an oauth2 provider needs authorize_url and token_url")
        if self.kind in SECRET_PRESETS and not self.client_secret:
            raise ValueError(f"a {self.kind} provider needs client_secret")
        if self.kind == "hh" and not self.user_agent:
            raise ValueError('hh needs user_agent, like "MyApp/1.0 (me@example.com)"')
        return self


class Settings(BaseModel):
    # The file and the environment are read and merged by ``load_settings`` (so that an error can
    # say where the bad value came from); the model only validates. Defaults are validated too.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    public_url: str = "http://127.0.0.1:8000"
    listen: str = "127.0.0.1:8000"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # The largest request body read (bytes); a longer one is answered 413.
    max_request_body: int = Field(default=1_048_576, ge=1024)
    log_format: Literal["kv", "json"] = "kv"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    session: SessionSettings = SessionSettings()
    login: LoginSettings = LoginSettings()
    vault: VaultSettings = VaultSettings()
    keyring: KeyringSettings = KeyringSettings()
    proxy: ProxySettings = ProxySettings()
    # Optional: without it no Telegram message is ever sent.
    telegram: TelegramSettings | None = None
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    webhooks: list[WebhookSettings] = Field(default_factory=list)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _origin(value)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError('expected "host:port"')
        return value

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, value: dict[str, ProviderSettings]) -> dict[str, ProviderSettings]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", name):
                raise ValueError(f"provider name {name!r}: use a-z, 0-9, - and _")
        return value

    @property
    def verify_epoch_path(self) -> Path:
        return self.session.verify_epoch_file or self.data_dir / "verify-epoch"

    @property
    def is_https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def redirect_uri(self, provider: str) -> str:
        """The callback URL a provider must have registered for ``provider``."""
        custom = self.providers[provider].callback_path
        return self.public_url + (custom or f"/auth/{provider}/callback")


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected scheme://host[:port], like https://auth.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("expected an origin without path, like https://auth.example.com")
    return f"{parts.scheme}://{parts.netloc}"


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, merge and validate the configuration, or raise ``ConfigError``."""
    return settings_from(read_config_sources(path, os.environ if environ is None else environ))


def settings_from(sources: ConfigSources) -> Settings:
    """Validate the merged sources, or raise ``ConfigError`` naming each bad key and where it
    came from."""
    try:
        return Settings(**sources.tree)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, sources.source, sources.overrides)) from None


def _describe(exc: ValidationError, source: str, overrides: Mapping[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "(top level)"
        where = "environment" if _in_tree(overrides, err["loc"]) else source
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{where}: {key}: {message}")
    return "; ".join(lines)


def _in_tree(tree: Mapping[str, Any], loc: tuple[int | str, ...]) -> bool:
    node: Any = tree
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True
