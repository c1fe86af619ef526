"""A served API process for the websocket test: ``python -m tests.serve_excursion DATA_DIR
PORT`` serves the app with uvicorn on 127.0.0.1:PORT over the embedded store in DATA_DIR and,
once a client subscribes to QC notifications, drives an excursion through the signal pipeline
in this process (as a signal consumer would; no broker needed), so the subscriber is notified
by the served process itself."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import uvicorn

from api.app import create_app
from bench.signal_plant import TAGS, TOPIC, signal
from ingest.signals.model import TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.notify import hub
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def excursion_when_subscribed(rt: Runtime, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while hub.subscribers == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    p = SignalPipeline(rt, TagMap.model_validate(TAGS), RawStore(rt.settings.data_dir /
                                                                 "signals"))
    obs = [p.observation(TOPIC, v, t, sequence=i)
           for i, (t, v) in enumerate(signal("excursion"))]
    p.process([o for o in obs if o is not None])


def main(data_dir: str, port: int) -> None:
    cfg = Settings(data_dir=Path(data_dir), store="embedded")
    rt = Runtime.open(cfg)
    threading.Thread(target=excursion_when_subscribed, args=(rt,), daemon=True).start()
    uvicorn.run(create_app(cfg, rt), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
