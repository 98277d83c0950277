"""A local Debian ``mosquitto`` broker as a plain child process, for the demo, the tests and the drill.

Production points ``twin serve --mqtt URL`` at the city's own broker; here one is started on a free
loopback port from a temporary configuration when asked (``--mqtt local``).  The configuration
keeps every QoS 1 message queued for a subscriber that is slow or away (mosquitto drops beyond
``max_queued_messages``, default 1,000, which would lose readings) and persists nothing to disk.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from twin.errors import InputError

#: where Debian installs the broker (``apt-get install mosquitto``; ``tasks.py`` does it for CI)
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
message_size_limit {message_size_limit}
"""


def mosquitto_binary() -> str | None:
    """The broker's executable, or None where it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in MOSQUITTO_PATHS if Path(p).is_file()), None)


def free_port() -> int:
    """A TCP port free on loopback now (the broker binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """``with Mosquitto() as broker:`` a broker on ``broker.url`` for the length of the block.

    :meth:`stop` and :meth:`start` again on the same port are how the tests take the broker away
    and bring it back.
    """

    def __init__(self, port: int | None = None, message_size_limit: int = 16 * 1024 * 1024) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise InputError(
                "mosquitto", "the MQTT broker is not installed", hint="apt-get install mosquitto (tasks.py does it)"
            )
        self.binary = binary
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="twin-mosquitto-")
        self.config = Path(self._dir.name) / "mosquitto.conf"
        self.config.write_text(CONFIG.format(port=self.port, message_size_limit=message_size_limit))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        """Start the broker and wait until it accepts connections."""
        log = (Path(self._dir.name) / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise InputError(self.config, f"mosquitto exited with status {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise InputError(self.config, f"mosquitto did not listen on port {self.port} within {timeout_s:g} s")

    def stop(self) -> None:
        """Stop the broker (its queued messages go with it: persistence is off)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        self._dir.cleanup()
