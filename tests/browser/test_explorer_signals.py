"""The deviation view of a signal excursion in headless Chromium, on both engines: the signal
loop runs an excursion on a store (raw samples kept under the data directory, as the service
keeps them), the app serves that store, and the page plots the raw samples around the event
with the spec limits. The expected samples come from the signal that was sent, not from the
raw store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench import signal_plant
from tests.browser.conftest import shot, signed_in_page
from tests.conftest import PASSWORD, make_user, migrate
from tests.integration.test_signals_api import run_excursion
from tests.serving import served
from tracegraph.runtime import Runtime

pytestmark = pytest.mark.browser

RAW_SECONDS = 300  # the deviation view's default window either side of the event


@pytest.fixture
def app_url(runtime: Runtime, explorer_built: None) -> Iterator[str]:
    """The app over the runtime's store, after an excursion went through the signal loop."""
    migrate(runtime, signal_plant.plant())
    run_excursion(runtime)
    make_user(runtime, "qa.signals", ["qa"])
    with served(runtime) as url:
        yield url


def test_deviation_of_a_signal_excursion_plots_the_raw_samples(
        browser: Any, app_url: str, runtime: Runtime) -> None:
    [dev] = runtime.store.nodes_of_class("Deviation")
    [exc] = runtime.store.nodes_of_class("Excursion")
    at = datetime.fromisoformat(str(exc.props["detectedAt"]).replace("Z", "+00:00"))
    sent = [(datetime.fromtimestamp(t / 1000, tz=UTC), x)
            for t, x in signal_plant.signal("excursion")]
    inside = [x for t, x in sent if abs(t - at) <= timedelta(seconds=RAW_SECONDS)]
    assert 0 < len(inside) < len(sent)
    beyond = sum(1 for x in inside if x > signal_plant.LIMITS["usl"])
    assert beyond > 0

    with signed_in_page(browser, app_url, "qa.signals", PASSWORD) as page:
        page.click("#tabs a[data-view=deviation]")
        page.fill("#deviation-id", dev.key)
        page.click("#deviation-form button[type=submit]")
        page.wait_for_selector("#signal-plot")
        assert page.get_attribute("#signal-source", "data-source") == "raw"
        assert page.locator("#signal-plot circle.point").count() == len(inside)
        assert page.locator("#signal-plot circle.point[fill='#c62828']").count() == beyond
        assert page.locator("#signal-plot line.limit").count() >= 2  # LSL and USL at least
        assert page.locator("#signal-plot line.event").count() == 1
        assert page.inner_text("#deviation-state") == "Open"
        page.wait_for_selector("[data-impact=units]")
        shot(page, f"9-deviation-raw-{type(runtime.store).__name__}")
