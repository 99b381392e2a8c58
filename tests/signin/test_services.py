"""The sign-in services in-process, on a real SQLite database, with a clock the test moves."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey
from sqlalchemy import event

from authgate.clock import FrozenClock
from authgate.config import Settings
from authgate.errors import AuthgateError, InvalidRequest, RateLimited, Unauthorized
from authgate.runtime import Runtime
from authgate.signin import passwords
from authgate.signin.audit import FAILURE, LOCAL, Client
from authgate.signin.oidc_login import profile_from_claims
from authgate.signin.passwords import HashSlots, check_password, seed_password
from authgate.signin.revocations import RevocationCache
from authgate.signin.services import SigninServices
from authgate.signin.sessions import IssuedSession
from authgate.signin.users import Profile, provider_email, username_base
from authgate.vault.links import check_owner
from tests.harness import wait_until
from tests.tampering import altered

CLIENT = Client(ip="192.0.2.1", user_agent="tests")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def runtime(tmp_path, clock):
    settings = Settings(public_url="https://auth.example.com", data_dir=tmp_path / "data",
                        session={"lifetime": "1h"},
                        login={"max_failures": 3, "failure_window": "10m"})
    made = Runtime.open(settings, clock=clock)
    yield made
    made.engine.dispose()


@pytest.fixture
def svc(runtime) -> SigninServices:
    return runtime.signin


def _user(svc: SigninServices, clock: FrozenClock, name: str = "ann"):
    return svc.users.add(name, role="user", email=f"{name}@example.com", now=clock.now())


def test_session_token_lifecycle(svc, clock):
    issued = svc.sessions.start(_user(svc, clock), provider=LOCAL, ip=None, user_agent=None)
    claims = svc.sessions.verify(issued.token)
    assert (claims.username, claims.role, claims.sid) == ("ann", "user", issued.sid)
    assert claims.expires_at - claims.issued_at == 3600

    clock.advance(3601)
    with pytest.raises(Unauthorized) as expired:
        svc.sessions.verify(issued.token)
    assert expired.value.error == "session_expired"

    clock.advance(-3601)
    svc.sessions.end(issued.sid)
    with pytest.raises(Unauthorized) as revoked:
        svc.sessions.verify(issued.token)
    assert revoked.value.error == "session_revoked"


def _forge(claims, key, alg="ES256", kid=None):
    header = {"alg": alg, **({"kid": kid} if kid else {})}
    return jwt.encode(header, claims, key, algorithms=[alg])


def test_forged_tokens_are_refused(svc, clock):
    issued = svc.sessions.start(_user(svc, clock), provider=LOCAL, ip=None, user_agent=None)
    good = jwt.decode(issued.token, svc.keys.verifier(None), algorithms=["ES256"])
    kid = good.header["kid"]
    stranger = ECKey.generate_key("P-256")
    forged = [
        _forge(good.claims, stranger, kid=kid),  # right kid, wrong key
        _forge({**good.claims, "iss": "https://other.example"},
               ECKey.import_key(svc.keys.signer()[1].as_dict(private=True)), kid=kid),
        _forge(good.claims, OctKey.import_key(b"k" * 32), alg="HS256", kid=kid),
        altered(issued.token),
        "x" * 5000,
        "",
    ]
    for token in forged:
        with pytest.raises(Unauthorized):
            svc.sessions.verify(token)
    # The honest one was never disturbed by the forgeries.
    assert svc.sessions.verify(issued.token).sid == issued.sid


def test_verify_of_a_known_session_needs_no_database(runtime, svc, clock):
    issued = svc.sessions.start(_user(svc, clock), provider=LOCAL, ip=None, user_agent=None)
    svc.sessions.verify(issued.token)  # first sight: signature checked, result cached
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        for _ in range(100):
            svc.sessions.verify(issued.token)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert statements == []


def test_revocation_by_another_process_is_seen_after_a_reload(runtime, svc, clock, tmp_path):
    issued = svc.sessions.start(_user(svc, clock), provider=LOCAL, ip=None, user_agent=None)
    svc.sessions.verify(issued.token)
    other = Runtime.open(runtime.settings, clock=clock)  # e.g. `authgate users disable`
    try:
        other.signin.users.set_disabled("ann", True, clock.now())
    finally:
        other.engine.dispose()
    cache = RevocationCache(runtime.db, clock, interval=0.0)
    assert cache.is_revoked(issued.sid)  # no event loop here: the reload is inline
    svc.revocations.load()
    with pytest.raises(Unauthorized):
        svc.sessions.verify(issued.token)


def test_handoff_codes_are_single_use_and_short_lived(svc, clock):
    issued = svc.sessions.start(_user(svc, clock), provider=LOCAL, ip=None, user_agent=None)
    panel = "https://panel.example"
    code = svc.handoff.create(issued.sid, clock.now(), origin=panel)
    assert svc.handoff.redeem(code, clock.now(), origin=panel) == issued.sid
    with pytest.raises(InvalidRequest):
        svc.handoff.redeem(code, clock.now(), origin=panel)
    late = svc.handoff.create(issued.sid, clock.now(), origin=panel)
    clock.advance(61)
    with pytest.raises(InvalidRequest):
        svc.handoff.redeem(late, clock.now(), origin=panel)


def test_limiter_counts_failures_in_the_window(svc, clock):
    for _ in range(3):
        svc.log.record(now=clock.now(), provider=LOCAL, result=FAILURE, client=CLIENT,
                       username="zed", reason="wrong_password")
        clock.advance(60)
    with pytest.raises(RateLimited) as limited:
        svc.limiter.check(username="zed", ip=CLIENT.ip, now=clock.now())
    # The oldest of the three leaves the 10 min window 10 - 3 = 7 minutes from now.
    assert limited.value.retry_after == 7 * 60
    with pytest.raises(RateLimited):  # the same address, another name
        svc.limiter.check(username="other", ip=CLIENT.ip, now=clock.now())
    # The same name from another address: slowed down, not locked out (the last failure was a
    # minute ago, longer than the slowdown's first step).
    svc.limiter.check(username="zed", ip="198.51.100.1", now=clock.now())
    clock.advance(7 * 60 + 1)
    svc.limiter.check(username="zed", ip=CLIENT.ip, now=clock.now())


@pytest.mark.usefixtures("cheap_passwords")  # 40 checks: about the limiter, not the hash
def test_nobody_can_lock_the_owner_out(svc, clock):
    """Review finding 5: guesses at one name from many addresses slow them down, while the owner
    waits seconds (and is told how many), never the whole window."""
    svc.users.add("olga", role="user", now=clock.now(),
                  password_hash=passwords.hash_password("olga's password"))
    owner = Client(ip="203.0.113.7", user_agent="owner")
    waits = []
    for n in range(40):  # an attacker with many addresses, as fast as the limits allow
        attacker = Client(ip=f"198.51.100.{n}", user_agent="x")
        try:
            svc.completion.password("olga", f"guess {n}", attacker)
        except RateLimited as exc:
            waits.append(exc.retry_after)
            assert str(exc.retry_after) in exc.detail  # the message says how long
            clock.advance(exc.retry_after)
        except Unauthorized:
            pass
    assert waits and max(waits) <= 30  # slowed down: a handful of guesses a minute
    # The owner signs in at once, or after the few seconds the message names.
    try:
        issued = svc.completion.password("olga", "olga's password", owner)
    except RateLimited as exc:
        assert exc.retry_after <= 30
        clock.advance(exc.retry_after)
        issued = svc.completion.password("olga", "olga's password", owner)
    assert issued.user.username == "olga"


def test_signing_key_rotation_keeps_old_tokens_valid(svc, clock):
    issued = svc.sessions.start(_user(svc, clock), provider=LOCAL, ip=None, user_agent=None)
    old_kid = svc.keys.signer()[0]
    new_kid = svc.keys.rotate(clock.now())
    assert new_kid != old_kid and svc.keys.signer()[0] == new_kid
    assert {k["kid"] for k in svc.keys.jwks()["keys"]} == {old_kid, new_kid}
    assert svc.sessions.verify(issued.token).sid == issued.sid
    clock.advance(timedelta(hours=1, minutes=6).total_seconds())  # its sessions are all over
    svc.keys.load()
    assert {k["kid"] for k in svc.keys.jwks()["keys"]} == {new_kid}


def test_provider_identity_creates_then_updates_one_user(svc, clock):
    profile = Profile(email="Mary.Sue+x@Example.com", name="Mary", picture=None)
    user, created = svc.users.upsert_from_provider("idp", "sub-1", profile, role=None,
                                                   default_role="user", now=clock.now())
    assert created and user.username == "mary.suex" and user.role == "user"
    svc.users.set_role(user.username, "ops", clock.now())
    again, created = svc.users.upsert_from_provider(
        "idp", "sub-1", Profile(email="mary@example.com", name="Mary S."), role=None,
        default_role="user", now=clock.now())
    assert not created and again.id == user.id
    assert (again.name, again.email, again.role) == ("Mary S.", "mary@example.com", "ops")
    mapped, _ = svc.users.upsert_from_provider("idp", "sub-1", profile, role="admin",
                                               default_role="user", now=clock.now())
    assert mapped.role == "admin"


@pytest.mark.parametrize(("email", "fallback", "expected"), [
    ("alice@example.com", None, "alice"),
    ("Ivan.Petrov@mail.ru", None, "ivan.petrov"),
    ("Иван@пример.рф", "sub", "sub"),
    (None, "310000", "310000"),
    ("...@example.com", None, "user"),
    ("...@example.com", "---", "user"),
])
def test_username_from_email(email, fallback, expected):
    assert username_base(email, fallback) == expected


def test_seed_passwords_and_rehash():
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert seed_password(weak).outcome == "kept"
    check = check_password(weak, "pw")
    assert check.ok and check.rehashed and check.rehashed.startswith("$argon2id$")
    # The production cost (RFC 9106's second recommendation), which other tests lower in-process
    # (tests/inprocess.py, cheap_password_hashing): a rehash is hash_password's, as a new hash.
    assert "$m=65536,t=3,p=4$" in check.rehashed
    assert not check_password(weak, "wrong").ok
    assert not check_password(None, "pw").ok
    assert not check_password("not a hash", "pw").ok
    assert seed_password("s3cret-plain").hash.startswith("$argon2id$")
    sha256_hex = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    for foreign in ("$2y$10$" + "a" * 53, "pbkdf2_sha256$600000$salt$hash", "{SSHA}abcdef==",
                    sha256_hex, "$6$salt$hash", "scrypt:32768:8:1$salt$hash"):
        result = seed_password(foreign)
        assert result.hash is None and result.outcome.startswith("refused"), foreign
    assert seed_password(None).outcome == "none" and seed_password(12).hash is None


# -- review finding 1: a role change reaches every live session ---------------------------

def _provider_signin(svc: SigninServices, clock: FrozenClock, role: str | None,
                     email: str = "carol@corp.example"):
    user, _ = svc.users.upsert_from_provider("zitadel", "carol-sub", Profile(email=email),
                                             role=role, default_role="user", now=clock.now())
    return svc.sessions.start(user, provider="zitadel", ip=None, user_agent=None)


def test_a_demotion_at_the_provider_ends_the_sessions_on_other_devices(svc, clock):
    device_a = _provider_signin(svc, clock, "admin")
    assert svc.sessions.verify(device_a.token).role == "admin"
    clock.advance(60)
    device_b = _provider_signin(svc, clock, "user")  # her roles at the provider are ["user"]
    assert svc.sessions.verify(device_b.token).role == "user"
    with pytest.raises(Unauthorized) as ended:
        svc.sessions.verify(device_a.token)  # the very next check, from memory
    assert ended.value.error == "session_revoked"


def test_the_same_role_again_keeps_the_other_sessions(svc, clock):
    device_a = _provider_signin(svc, clock, "admin")
    _provider_signin(svc, clock, "admin")
    assert svc.sessions.verify(device_a.token).role == "admin"


@pytest.mark.parametrize("change", ["role", "disable"])
def test_a_role_change_or_disable_in_this_process_is_seen_by_the_next_verify(svc, clock, change):
    user = svc.users.add("erin", role="admin", now=clock.now())
    issued = svc.sessions.start(user, provider=LOCAL, ip=None, user_agent=None)
    svc.sessions.verify(issued.token)
    if change == "role":
        svc.users.set_role("erin", "user", clock.now())  # the console, in this process
    else:
        svc.users.set_disabled("erin", True, clock.now())
    with pytest.raises(Unauthorized):
        svc.sessions.verify(issued.token)


# -- review finding 2: only an email the provider verified is passed on --------------------

@pytest.mark.parametrize(("claims", "trust", "expected"), [
    ({"email": "dave@corp.example", "email_verified": True}, False, "dave@corp.example"),
    ({"email": "dave@corp.example", "email_verified": "true"}, False, "dave@corp.example"),
    ({"email": "dave@corp.example", "email_verified": False}, False, None),
    ({"email": "dave@corp.example"}, False, None),
    ({"email": "dave@corp.example"}, True, "dave@corp.example"),
    ({"email": "dave@corp.example", "email_verified": False}, True, "dave@corp.example"),
    ({"email": "a@b@corp.example", "email_verified": True}, True, None),
    ({"email": "@corp.example", "email_verified": True}, False, None),
    ({"email": "dave@corp.example\r\nX-Auth-Request-Role: admin", "email_verified": True},
     False, None),
    ({"email": "dave @corp.example", "email_verified": True}, False, None),
])
def test_provider_email_is_only_a_verified_single_address(claims, trust, expected):
    assert provider_email(claims, trust_email=trust) == expected


def test_an_unverified_email_names_no_user_and_reaches_no_panel(svc, clock):
    svc.users.add("dave", role="admin", email="dave@corp.example", now=clock.now())
    claims = {"sub": "mallory", "email": "dave@corp.example", "email_verified": False}
    profile = profile_from_claims(claims)
    user, created = svc.users.upsert_from_provider("idp", "mallory", profile, role=None,
                                                   default_role="user", now=clock.now())
    assert created and user.email is None and not user.username.startswith("dave")
    issued = svc.sessions.start(user, provider="idp", ip=None, user_agent=None)
    assert svc.sessions.verify(issued.token).email is None


# -- review finding 4: the password limit holds against a burst, and hashing is bounded -----

def _burst(calls, workers: int = 25):
    """Run the calls at once (a barrier releases them together); returns results/exceptions."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except AuthgateError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, calls))


def _counting_checks(monkeypatch) -> dict[str, int]:
    seen = {"checks": 0, "running": 0, "most": 0}
    lock = threading.Lock()
    real = passwords._verify

    def verify(stored: str, password: str) -> bool:
        with lock:
            seen["checks"] += 1
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
        try:
            return real(stored, password)
        finally:
            with lock:
                seen["running"] -= 1

    monkeypatch.setattr(passwords, "_verify", verify)
    return seen


def test_a_burst_of_guesses_gets_only_max_failures_checks(svc, clock, monkeypatch):
    svc.users.add("gail", role="user", now=clock.now(),
                  password_hash=passwords.hash_password("the right one"))
    seen = _counting_checks(monkeypatch)

    def attempt(password: str, behind: bool = False):
        def call():
            if behind:  # once the guesses have been let through to their checks
                wait_until(lambda: seen["checks"] >= 3, "the first guesses' checks")
            return svc.completion.password("gail", password, CLIENT)
        return call

    # 24 wrong passwords at once, and the right one sent with them, a moment behind.
    results = _burst([attempt(f"guess {i}") for i in range(24)]
                     + [attempt("the right one", behind=True)])
    assert seen["checks"] <= 3  # login.max_failures in this runtime
    assert sum(isinstance(r, Unauthorized) for r in results) <= 3
    assert isinstance(results[-1], RateLimited)  # the right password after the limit
    assert not any(isinstance(r, IssuedSession) for r in results)
    with pytest.raises(RateLimited):
        svc.completion.password("gail", "the right one", CLIENT)


def test_password_checks_at_once_are_bounded(tmp_path, clock, monkeypatch):
    settings = Settings(public_url="https://auth.example.com", data_dir=tmp_path / "data",
                        login={"parallel_checks": 2})
    runtime = Runtime.open(settings, clock=clock)
    try:
        seen = _counting_checks(monkeypatch)
        completion = runtime.signin.completion

        def attempt(i: int):
            return lambda: completion.password(f"nobody{i}", "pw",
                                               Client(ip=f"198.51.100.{i}", user_agent=None))

        results = _burst([attempt(i) for i in range(6)])
        assert all(isinstance(r, Unauthorized) for r in results)  # all checked, in turn
        assert seen["checks"] == 6 and seen["most"] <= 2
    finally:
        runtime.engine.dispose()


def test_a_queue_too_long_is_answered_busy():
    slots = HashSlots(1, wait=0.05)
    with slots.slot(), pytest.raises(RateLimited) as busy, slots.slot():
        pass
    assert busy.value.error == "busy"


# -- review finding 13: names that only look valid -------------------------------------------

@pytest.mark.parametrize("name", ["bob\n", "bob\r\n", "", "a b", "x" * 151, "bob\x00"])
def test_usernames_are_checked_whole(svc, clock, name):
    with pytest.raises(InvalidRequest):
        svc.users.add(name, role="user", now=clock.now())


@pytest.mark.parametrize("owner", [".", "..", "...", "tg:1\n", "_application"])
def test_owners_that_would_be_path_segments_or_reserved_are_refused(owner):
    with pytest.raises(InvalidRequest):
        check_owner(owner)
    assert check_owner("tg:12345") == "tg:12345" and check_owner(".x") == ".x"
