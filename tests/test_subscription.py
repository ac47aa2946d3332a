"""What one desktop wants of the team's alerts: services, path globs, a least count and the
files its owner owns (CODEOWNERS), and the catch-up summary. Pure, except the owners file."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logtray.pipeline.frames import Frame
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.alerts_topic import catch_up_summary
from logtray.tray.alerts.evidence import Evidence
from logtray.tray.alerts.subscription import (
    Subscription,
    normalize_owner,
    relative_path,
    subscription_from,
)
from logtray.tray.base.config import AlertsTopicConfig
from logtray.tray.base.errors import LogtrayError

OWNERS = """\
# the shop
*                   @all-devs
/payments/          @alice @shop/payments
/orders/**          @bob
/orders/legacy/     carol@example.com
"""


def owned_by(tmp_path, owner: str) -> Subscription:
    path = tmp_path / "CODEOWNERS"
    path.write_text(OWNERS)
    return subscription_from(
        AlertsTopicConfig(owners_file=str(path), owner=owner, path_prefix="/srv/")
    )


def test_no_filter_wants_every_alert() -> None:
    sub = subscription_from(AlertsTopicConfig())
    assert sub.everything and sub.describe() == "every alert"
    assert sub.wants(Alert(message="text only")) and sub.wants(Alert(pathname="/x.py"))


def test_services_paths_and_min_count_must_all_match() -> None:
    sub = Subscription(
        services=frozenset({"payments"}), paths=("payments/*",), min_count=30, path_prefix="/srv/"
    )
    good = Alert(pathname="/srv/payments/charge.py", service="payments", count=31)
    assert sub.wants(good)
    assert not sub.wants(Alert(pathname="/srv/payments/charge.py", service="orders", count=31))
    assert not sub.wants(Alert(pathname="/srv/orders/ship.py", service="payments", count=31))
    assert not sub.wants(Alert(pathname="/srv/payments/charge.py", service="payments", count=29))
    # No count: nothing says it is small. No pathname: a path filter cannot match it.
    assert sub.wants(Alert(pathname="/srv/payments/a.py", service="payments"))
    assert not sub.wants(Alert(service="payments", count=40))
    # `*` crosses directories; a glob may also name the full pathname.
    assert Subscription(paths=("payments/*",)).wants(Alert(pathname="payments/a/b/c.py"))
    assert Subscription(paths=("/srv/*/refund.py",)).wants(Alert(pathname="/srv/x/refund.py"))


def test_filtered_out_alerts_are_counted() -> None:
    sub = Subscription(paths=("orders/*",))
    taken = [sub.take(Alert(pathname=p)) for p in ("orders/a.py", "payments/b.py", "c.py")]
    assert taken == [True, False, False] and sub.filtered == 2


def test_owners_are_read_as_github_reads_codeowners(tmp_path) -> None:
    alice = owned_by(tmp_path, "Alice")  # the handle without @ and in any case
    assert alice.wants(Alert(pathname="/srv/payments/charge.py"))
    assert not alice.wants(Alert(pathname="/srv/orders/ship.py"))
    assert not alice.wants(Alert(pathname="/srv/README.md"))  # only @all-devs there
    team = owned_by(tmp_path, "@shop/payments")
    assert team.wants(Alert(pathname="/srv/payments/x.py"))
    bob = owned_by(tmp_path, "@bob")
    assert bob.wants(Alert(pathname="/srv/orders/deep/ship.py"))
    # The last matching rule wins: orders/legacy/ belongs to carol alone.
    assert not bob.wants(Alert(pathname="/srv/orders/legacy/old.py"))
    carol = owned_by(tmp_path, "carol@example.com")
    assert carol.wants(Alert(pathname="/srv/orders/legacy/old.py"))
    assert "files @bob owns" in bob.describe()


def test_a_bad_owners_setting_is_one_sentence(tmp_path) -> None:
    with pytest.raises(LogtrayError, match="cannot read the owners file"):
        subscription_from(AlertsTopicConfig(owners_file=str(tmp_path / "missing"), owner="@alice"))
    with pytest.raises(LogtrayError, match="go together"):
        subscription_from(AlertsTopicConfig(owner="@alice"))
    huge = tmp_path / "CODEOWNERS"
    huge.write_bytes(b"* @a\n" * 300_000)
    with pytest.raises(LogtrayError, match="over 1 MiB"):
        subscription_from(AlertsTopicConfig(owners_file=str(huge), owner="@a"))


GROUP = "payments · GET /srv/payments/<n> failed"  # a group key: the message has slashes


def test_a_group_without_a_call_site_is_never_taken_for_a_path(tmp_path) -> None:
    glob = Subscription(paths=("*payments/*",), path_prefix="/srv/")
    assert not glob.wants(Alert(pathname=GROUP, service="payments"))
    assert not owned_by(tmp_path, "@alice").wants(Alert(pathname=GROUP))
    # Its service is the one the group names (pino writes the name as the logger's).
    by_service = Subscription(services=frozenset({"payments"}))
    assert by_service.wants(Alert(pathname=GROUP))
    assert not Subscription(services=frozenset({"GET /srv"})).wants(Alert(pathname=GROUP))
    assert not by_service.wants(Alert(pathname="/srv/payments/a.py"))  # a file names none
    assert Subscription().wants(Alert(pathname=GROUP))


def test_a_group_matches_paths_and_owners_by_the_user_s_own_frame(tmp_path) -> None:
    frame = Frame("/srv/payments/charge.js", 16, "charge", "node")
    alert = Alert(pathname=GROUP, evidence=Evidence(frame=frame))
    assert Subscription(paths=("payments/*.js",), path_prefix="/srv/").wants(alert)
    assert not Subscription(paths=("orders/*",), path_prefix="/srv/").wants(alert)
    assert owned_by(tmp_path, "@alice").wants(alert)
    assert not owned_by(tmp_path, "@bob").wants(alert)


def test_paths_and_owners() -> None:
    assert relative_path("/app/payments/a.py", "/app/") == "payments/a.py"
    assert relative_path("C:\\app\\x.py", "") == "C:/app/x.py"
    assert relative_path("/other/a.py", "/app/") == "other/a.py"
    assert normalize_owner(" Alice ") == "@alice" and normalize_owner("a@b.c") == "a@b.c"


@given(
    pathname=st.one_of(st.none(), st.text(max_size=300)),
    service=st.one_of(st.none(), st.text(max_size=50)),
    count=st.one_of(st.none(), st.integers(-(2**63), 2**63)),
)
def test_any_alert_is_judged_without_raising(tmp_path_factory, pathname, service, count) -> None:
    path = tmp_path_factory.getbasetemp() / "CODEOWNERS"
    path.write_text(OWNERS)
    sub = subscription_from(
        AlertsTopicConfig(
            owners_file=str(path), owner="@bob", paths=("*",), services=(), min_count=3
        )
    )
    alert = Alert(pathname=pathname, service=service, count=count)
    assert sub.wants(alert) in (True, False)


def test_the_catch_up_is_one_summary() -> None:
    alerts = [
        Alert(pathname=f"/srv/{name}.py", time=100.0 + i) for i, name in enumerate("aabcdefg")
    ]
    summary = catch_up_summary(alerts, 3600)
    assert summary.headline() == "While you were away: 8 team alerts in the last 60 min"
    assert summary.body() == "a.py ×2, b.py, c.py, d.py, e.py and 2 more files"
    assert summary.time == 107.0 and summary.extra == {"caught_up": 8, "files": 7}
