"""Single-use codes: browser flows, connect links and handoff codes refuse the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from authgate.errors import FlowError, InvalidRequest
from authgate.flows import FLOW_LIFETIME, FlowStore
from authgate.keyring import Keyring
from authgate.secret_values import digest
from authgate.signin.handoff import HANDOFF_LIFETIME, HandoffCodes
from authgate.store.db import make_engine, make_sessionmaker, migrate
from authgate.store.models import AuthFlow, HandoffCode, Session, User
from authgate.vault.links import ConnectLinks

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BINDING = "b" * 43


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'authgate.db'}", pool_size=2)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _error(call) -> str:
    with pytest.raises((FlowError, InvalidRequest)) as info:
        call()
    return info.value.error


def test_flow_state(db, tmp_path):
    flows = FlowStore(db, Keyring(tmp_path / "keyring.json"))

    def start() -> str:
        return flows.start(kind="login", provider="idp", redirect_uri="https://gw/cb",
                           binding=BINDING, now=NOW, nonce="n", code_verifier="v" * 43,
                           next_url="/next", owner="o")

    def consume(state, *, binding=BINDING, provider="idp", now=NOW):
        return flows.consume(state=state, binding=binding, provider=provider, now=now)

    state = start()
    with db() as s:  # only the hash is stored, and the verifier only encrypted
        row = s.get(AuthFlow, digest(state))
        assert row is not None and row.expires_at == NOW + FLOW_LIFETIME
        assert row.consumed_at is None and "v" * 43 not in (row.code_verifier_enc or "")
    assert _error(lambda: consume(None)) == "missing_state"
    assert _error(lambda: consume("nope")) == "invalid_state"
    assert _error(lambda: consume(state, provider="other")) == "invalid_state"
    # Another browser is refused without using the state up.
    assert _error(lambda: consume(state, binding="x" * 43)) == "state_browser_mismatch"
    assert _error(lambda: consume(state, binding=None)) == "state_browser_mismatch"
    record = consume(state)
    assert (record.kind, record.provider, record.redirect_uri, record.nonce, record.next_url,
            record.owner, record.code_verifier) == ("login", "idp", "https://gw/cb", "n",
                                                    "/next", "o", "v" * 43)
    assert _error(lambda: consume(state)) == "state_reused"
    late = start()
    assert _error(lambda: consume(late, now=NOW + FLOW_LIFETIME)) == "state_expired"
    assert consume(late, now=NOW + FLOW_LIFETIME - timedelta(seconds=1)).code_verifier == "v" * 43


def test_connect_links(db):
    links = ConnectLinks(db)
    link = links.create("hh", "tg:1", now=NOW, lifetime=timedelta(minutes=30))
    assert link.expires_at == NOW + timedelta(minutes=30) and link.owner == "tg:1"
    assert _error(lambda: links.redeem(None, "hh", now=NOW)) == "missing_connect_session"
    assert _error(lambda: links.redeem("nope", "hh", now=NOW)) == "invalid_connect_session"
    assert _error(lambda: links.redeem(link.token, "other", now=NOW)) == "invalid_connect_session"
    assert _error(lambda: links.redeem(link.token, "hh", now=link.expires_at)) == \
        "connect_session_expired"
    assert links.redeem(link.token, "hh", now=NOW) == link
    assert _error(lambda: links.redeem(link.token, "hh", now=NOW)) == "connect_session_used"
    assert _error(lambda: links.create("hh", "_own", now=NOW, lifetime=timedelta(1))) == \
        "invalid_owner"


def test_handoff_codes(db):
    with db.begin() as s:
        user = User(username="u", role="user", created_at=NOW, updated_at=NOW)
        s.add(user)
        s.flush()
        s.add(Session(id="sid", user_id=user.id, created_at=NOW, expires_at=NOW + timedelta(1)))
    codes = HandoffCodes(db)
    panel = "https://panel.example"
    code = codes.create("sid", NOW, origin=panel)
    with db() as s:
        row = s.get(HandoffCode, digest(code))
        assert row is not None and row.expires_at == NOW + HANDOFF_LIFETIME
        assert row.origin == panel
    for bad in (None, "", "x" * 129, "nope"):
        assert _error(lambda bad=bad: codes.redeem(bad, NOW, origin=panel)) == "invalid_handoff"
    assert _error(lambda: codes.redeem(code, NOW + HANDOFF_LIFETIME, origin=panel)) == (
        "invalid_handoff")
    assert codes.redeem(code, NOW, origin=panel) == "sid"
    assert _error(lambda: codes.redeem(code, NOW, origin=panel)) == "invalid_handoff"
    other = codes.create("sid", NOW, origin=panel)
    assert _error(lambda: codes.redeem(other, NOW, origin="https://evil.example")) == (
        "invalid_handoff")
    assert _error(lambda: codes.redeem(other, NOW, origin=panel)) == "invalid_handoff"  # used up


def test_the_use_is_one_conditional_update(db):
    """Of two redemptions that both saw the row unused, the second to write loses."""
    from sqlalchemy import update

    from authgate.store.models import ConnectSession
    from authgate.store.single_use import Refused, SingleUse

    links = SingleUse(ConnectSession, ConnectSession.used_at)
    with db.begin() as s:
        code = links.issue(s, lambda key: ConnectSession(
            id=key, provider="hh", owner="o", created_at=NOW, expires_at=NOW + timedelta(1)))

    winner_at = NOW + timedelta(seconds=1)

    def the_other_one_wins(row: ConnectSession) -> None:
        s.execute(update(ConnectSession).where(ConnectSession.id == row.id)
                  .values(used_at=winner_at))

    with db.begin() as s, pytest.raises(Refused) as info:
        links.redeem(s, code, NOW, check=the_other_one_wins)
    assert info.value.reason == "used"
    with db() as s:  # the loser did not overwrite the winner's mark
        assert s.get(ConnectSession, digest(code)).used_at == winner_at
