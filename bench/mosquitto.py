"""A private Mosquitto broker on a free port, for the signal tests and benchmarks, with the
project's broker settings (:data:`DURABLE`, also shipped as ``examples/mosquitto.conf``). Runs
as the current user (as root mosquitto would switch to a ``mosquitto`` user that cannot write
the temporary persistence directory).

Durability trade-off (issue 17 F, measured by ``python -m bench.signal_faults``): Mosquitto 2.0
keeps messages in memory and writes its whole database at each save. With persistence alone it
saves only on clean shutdown, so a kill -9 loses every acknowledged message not yet delivered.
``autosave_on_changes`` with ``autosave_interval 100`` saves after every 100 changes (queued
messages, subscriptions): a kill -9 loses at most the last ~100 acknowledged changes.
``autosave_interval 1`` would narrow that to the race between the PUBACK and the save, but
costs a full database write per message (161 vs 3,400 messages/s measured here). The window is
closed end to end by the committed-sample protocol (:mod:`ingest.signals.edge`): the consumer
confirms what it committed, and the edge re-sends what the broker acknowledged but tracegraph
has not confirmed (duplicates and late samples are harmless: the raw store ignores true
duplicates and the pipeline evaluates late samples in time order)."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["DURABLE", "Broker", "free_port", "mosquitto_binary"]

#: the broker settings the project ships (see the module docstring for the trade-off)
DURABLE = ("persistence true\nautosave_on_changes true\nautosave_interval 100\n"
           "max_queued_messages 0\nmax_inflight_messages 1000\nmax_queued_bytes 0\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


class Broker:
    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen[bytes] | None = None
        (root / "db").mkdir(parents=True, exist_ok=True)
        self.conf = root / "mosquitto.conf"
        self.conf.write_text(
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{DURABLE}"
            f"persistence_location {root / 'db'}/\n"
            f"log_dest file {root / 'mosquitto.log'}\nlog_type error\nlog_type warning\n")

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def kill(self) -> None:
        """A broker crash: SIGKILL, no save."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # graceful: mosquitto saves its persistence file
            self.proc.wait(10)
            self.proc = None
