"""Hostile probes of ``geokd predict`` (issue 19.12): a STAC server that sends its
answer a byte at a time, or without end, is given up on in one line, within a total
deadline and a size cap."""

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .predict_helpers import Run, assert_error
from .round2 import DEEP, out_of

pytestmark = [pytest.mark.enable_socket, pytest.mark.usefixtures('one_thread')]

#: Seconds the dripping server takes to send its whole (valid JSON) answer.
DRIP_SECONDS = 30


class _Hostile(BaseHTTPRequestHandler):
    """``/drip.json``: a byte every 0.1 s; ``/endless.json``: 8 MiB of spaces;
    ``/deep.json``: JSON nested 5000 deep."""

    protocol_version = 'HTTP/1.0'

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header('Content-Type', 'application/geo+json')
        self.end_headers()
        try:
            if self.path == '/drip.json':
                body = b'{"type": "Feature"}'.rjust(int(DRIP_SECONDS / 0.1))
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.1)
            elif self.path == '/endless.json':
                for _ in range(128):
                    self.wfile.write(b' ' * 2**16)
            else:
                self.wfile.write(('{"type": "Feature", "x": ' + DEEP + '}').encode())
        except OSError:
            pass  # the client gave up

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    yield f'http://{host}:{port}'
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_stac_server_sending_a_byte_at_a_time(
    tmp_path: Path, run: Run, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr('geokd.predict.scene.stac.DEADLINE', 2)
    result = run(f'{server}/drip.json', '-o', out_of(tmp_path))
    assert_error(result, 1, 'drip.json', 'within 2 s')


def test_stac_server_sending_without_end(
    tmp_path: Path, run: Run, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr('geokd.predict.scene.stac.MAX_BYTES', 2**20)
    result = run(f'{server}/endless.json', '-o', out_of(tmp_path))
    assert_error(result, 1, 'endless.json', 'more than 1 MiB')


def test_remote_stac_nested_too_deep(tmp_path: Path, run: Run, server: str) -> None:
    result = run(f'{server}/deep.json', '-o', out_of(tmp_path))
    assert_error(result, 1, 'deep.json', 'nested too deep')
