"""QC on a phone (issue 15 item 9), in headless Chromium at a phone viewport (390 by 844) and on a
desktop: a QC user sits on the home page, an excursion goes through the real exception loop
(signal pipeline → committed deviation and hold → QC outbox → the served app's
``qcNotifications`` subscription over the page's own websocket), and the new deviation appears
on the worklist without a reload, with a banner and one browser notification. The loop delivers
at least once: the same notification delivered again (also after the server restarted and the
page reconnected by itself) is not shown twice. The subscription's rule lets every signed-in
role subscribe (api/auth.py), so an operator's page receives the delivery — its worklist
refreshes too — but shows no QC notification. On the phone neither the worklist nor the
deviation view scrolls sideways.

Browser notifications are the browser's own API: the permission is granted in the context and
``window.Notification`` is wrapped (init script) to record what the page shows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from bench import signal_plant
from ingest.signals.outbox import notification_of
from quality.notify import hub
from tests.browser.conftest import shot, signed_in_page
from tests.conftest import PASSWORD, make_user, migrate
from tests.integration.test_signals_api import run_excursion
from tests.serving import served
from tracegraph.runtime import Runtime

pytestmark = pytest.mark.browser

PHONE, DESKTOP = (390, 844), (1366, 860)
#: Chromium's own console report of a websocket refused while the server is down
REFUSED = ("ERR_CONNECTION_REFUSED",)
GRADE_ZH = "严重"  # tg:DeviationGradeScheme "critical"@zh (ontology/tracegraph.ttl)

# what the page shows as browser notifications, and every delivery the page was told of
RECORD = """(() => {
  const Native = window.Notification;
  window.__notes = []; window.__shown = []; window.__deliveries = 0;
  window.addEventListener("tracegraph:qc", () => { window.__deliveries += 1; });
  window.Notification = class extends Native {
    constructor(title, options = {}) {
      window.__notes.push({ title, body: options.body, tag: options.tag });
      super(title, options);
      window.__shown.push(this);
    }
  };
})();"""


@contextmanager
def live_page(browser: Any, url: str, user: str, viewport: tuple[int, int],
              expected_errors: tuple[str, ...] = ()) -> Iterator[Any]:
    """``user`` on the home page with notifications allowed, recorded, and turned on."""
    with signed_in_page(browser, url, user, PASSWORD, view="", viewport=viewport,
                        expected_errors=expected_errors) as pg:
        pg.context.grant_permissions(["notifications"], origin=url)
        pg.context.add_init_script(RECORD)
        pg.reload()  # the token stays in sessionStorage: signed in, now recorded
        pg.wait_for_selector("#work-view:not([hidden]) #worklist-deviations table",
                             state="attached")
        pg.wait_for_selector("#qc-state[data-state=live]")
        pg.click("#qc-notify")  # the user's gesture asks for the permission
        pg.wait_for_selector("#qc-notify[aria-pressed=true]")
        yield pg


def wait_subscribers(n: int) -> None:
    deadline = time.monotonic() + 20
    while hub.subscribers < n:
        assert time.monotonic() < deadline, f"{hub.subscribers} subscribers, expected {n}"
        time.sleep(0.05)


def no_sideways_scroll(page: Any, width: int) -> None:
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide on a {width} px screen"


@pytest.fixture
def loop_plant(runtime: Runtime, explorer_built: None) -> Runtime:
    migrate(runtime, signal_plant.plant())
    make_user(runtime, "qc.phone", ["qc"])
    make_user(runtime, "op.floor", ["operator"])
    return runtime


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_committed_deviation_reaches_qc_live_once_and_not_the_operator(
        browser: Any, loop_plant: Runtime, viewport: tuple[int, int]) -> None:
    rt = loop_plant
    name = "phone" if viewport == PHONE else "desktop"
    with served(rt) as url, ExitStack() as pages:
        qc = pages.enter_context(live_page(browser, url, "qc.phone", viewport))
        op = pages.enter_context(live_page(browser, url, "op.floor", viewport))
        for pg in (qc, op):
            assert pg.get_attribute("#worklist-deviations table", "data-total") == "0"
            pg.evaluate("window.__notReloaded = true")
        wait_subscribers(2)  # the server accepted both: its rule is every signed-in role

        run_excursion(rt)  # the real loop: detection, deviation + hold committed, QC outbox
        [dev] = rt.store.nodes_of_class("Deviation")
        [alarm] = rt.store.nodes_of_class("Alarm")
        for pg in (qc, op):  # both worklists refresh in place
            pg.wait_for_selector(f"#worklist-deviations tbody tr[data-key='{dev.key}']")
            assert pg.evaluate("window.__notReloaded") is True
        qc.wait_for_selector(f"#qc-live:not([hidden]) li[data-id='{alarm.key}']")
        notes = qc.evaluate("window.__notes")
        assert len(notes) == 1 and dev.key in notes[0]["title"], notes
        assert notes[0]["tag"] == alarm.key and "B-MOULD-7" in notes[0]["body"]
        assert qc.inner_text("#qc-badge") == "1 new"
        banner = qc.inner_text("#qc-live")
        assert "B-MOULD-7" in banner and "null" not in banner and "undefined" not in banner
        if viewport == PHONE:
            no_sideways_scroll(qc, PHONE[0])
        shot(qc, f"live-1-worklist-{name}")

        again = notification_of(rt.store, alarm.iri)  # delivered again, as the outbox may
        assert again is not None and again.id == alarm.key
        hub.publish(again)
        for pg in (qc, op):
            pg.wait_for_function("window.__deliveries >= 2")
        assert len(qc.evaluate("window.__notes")) == 1
        assert qc.locator("#qc-live li").count() == 1
        # the operator's page was told (the server does not restrict) and shows nothing
        assert op.evaluate("window.__notes") == []
        assert op.locator("#qc-live li").count() == 0 and not op.is_visible("#qc-badge")

        if viewport == DESKTOP:  # in Chinese: the controls, and the grade from the ontology
            qc.click("#lang")
            qc.wait_for_selector("#qc-notify:text('通知已开启')")
            assert qc.inner_text("#qc-state") == "实时"
            assert qc.inner_text(f"#qc-live li[data-id='{alarm.key}'] a") == (
                f"偏差 {dev.key}（{GRADE_ZH}），IMM-01 MELT-TEMP")  # noqa: RUF001
        if viewport == PHONE:  # to the deviation: from the banner, or the notification
            qc.click(f"#qc-live li[data-id='{alarm.key}'] a")
        else:
            qc.evaluate("window.__shown[0].onclick()")
        qc.wait_for_selector("#deviation-state")
        qc.wait_for_selector("[data-impact=units]")
        assert qc.input_value("#deviation-id") == dev.key
        assert not qc.is_visible("#qc-live") and not qc.is_visible("#qc-badge")  # read
        if viewport == PHONE:
            no_sideways_scroll(qc, PHONE[0])
        shot(qc, f"live-2-deviation-{name}")
        for pg in (qc, op):  # no websocket error or stale connection left in either page
            assert pg.get_attribute("#qc-state", "data-state") == "live"
        qc.click("#sign-out")  # signed out: unsubscribed, nothing of theirs shown
        deadline = time.monotonic() + 20
        while hub.subscribers > 1:
            assert time.monotonic() < deadline, "the signed-out page is still subscribed"
            time.sleep(0.05)
        assert not qc.is_visible("#qc-ctl")


def test_the_page_reconnects_after_a_restart_and_shows_a_redelivery_once(
        browser: Any, loop_plant: Runtime) -> None:
    rt = loop_plant
    first = ExitStack()
    url = first.enter_context(served(rt))
    port = int(url.rsplit(":", 1)[1])
    try:
        with live_page(browser, url, "qc.phone", PHONE, REFUSED) as qc:
            wait_subscribers(1)
            run_excursion(rt)
            [alarm] = rt.store.nodes_of_class("Alarm")
            qc.wait_for_selector(f"#qc-live li[data-id='{alarm.key}']")
            first.close()  # the server goes away: the page notices and keeps trying
            qc.wait_for_selector("#qc-state[data-state=reconnecting]")
            time.sleep(3)  # a few refused attempts (1 s, 2 s … apart)
            with served(rt, port):
                qc.wait_for_selector("#qc-state[data-state=live]", timeout=40_000)
                wait_subscribers(1)
                again = notification_of(rt.store, alarm.iri)  # the loop delivers it again
                assert again is not None
                hub.publish(again)
                qc.wait_for_function("window.__deliveries >= 2")
                assert len(qc.evaluate("window.__notes")) == 1
                assert qc.locator("#qc-live li").count() == 1
                shot(qc, "live-3-reconnected-phone")
    finally:
        first.close()
