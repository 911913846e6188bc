"""A static HTTP server with byte ranges, for the cloud-native input tests.

Python's ``SimpleHTTPRequestHandler`` ignores ``Range``; GDAL's ``/vsicurl/`` needs
it. This one answers single and multiple ranges (206, ``multipart/byteranges``),
``HEAD`` and 404, sends ``ETag`` and ``Last-Modified``, and counts the requests and
the body bytes it serves.
"""

import email.utils
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r'^\s*(\d*)\s*-\s*(\d*)\s*$')
_BOUNDARY = 'geokd-test-boundary'


@dataclass
class Traffic:
    """What the server sent: requests and body bytes, per path."""

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    body_bytes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, ranges: str | None, sent: int) -> None:
        """Record one request and the body bytes sent for it."""
        with self.lock:
            self.requests.append((method, path, ranges))
            self.body_bytes[path] = self.body_bytes.get(path, 0) + sent

    def reset(self) -> None:
        """Forget what was counted."""
        with self.lock:
            self.requests.clear()
            self.body_bytes.clear()

    @property
    def total(self) -> int:
        """Body bytes sent, all paths."""
        return sum(self.body_bytes.values())


def _ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """The ``(first, last)`` byte ranges of a ``Range`` header; None if unusable."""
    unit, _, spec = header.partition('=')
    if unit.strip() != 'bytes':
        return None
    out = []
    for part in spec.split(','):
        m = _RANGE.match(part)
        if m is None or m.groups() == ('', ''):
            return None
        first, last = m.groups()
        if first == '':  # the last N bytes
            start, end = max(size - int(last), 0), size - 1
        else:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        if start > end or start >= size:
            continue
        out.append((start, end))
    return out


def _handler(root: Path, traffic: Traffic) -> type[BaseHTTPRequestHandler]:
    class RangeHandler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _file(self) -> Path | None:
            rel = unquote(urlsplit(self.path).path).lstrip('/')
            path = (root / rel).resolve()
            if root.resolve() not in path.parents or not path.is_file():
                return None
            return path

        def _serve(self, body: bool) -> None:
            path = self._file()
            header = self.headers.get('Range')
            if path is None:
                self.send_response(404)
                self.send_header('Content-Length', '0')
                traffic.add(self.command, self.path, header, 0)
                self.end_headers()
                return
            data = path.read_bytes()
            stat = path.stat()
            ranges = _ranges(header, len(data)) if header else None
            if header and ranges == []:
                self.send_response(416)
                self.send_header('Content-Range', f'bytes */{len(data)}')
                self.send_header('Content-Length', '0')
                traffic.add(self.command, self.path, header, 0)
                self.end_headers()
                return
            parts = list(self._parts(data, ranges))
            payload = b''.join(parts[1:]) if parts else data
            content_type = parts[0].decode() if parts else 'application/octet-stream'
            self.send_response(206 if ranges else 200)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(payload)))
            self.send_header('Accept-Ranges', 'bytes')
            self.send_header('ETag', f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"')
            self.send_header(
                'Last-Modified', email.utils.formatdate(stat.st_mtime, usegmt=True)
            )
            if ranges and len(ranges) == 1:
                start, end = ranges[0]
                self.send_header('Content-Range', f'bytes {start}-{end}/{len(data)}')
            self.end_headers()
            # Counted before it is sent: a client that has its answer must find it
            # counted (counted after, a test could look between the two).
            traffic.add(self.command, self.path, header, len(payload) if body else 0)
            if body:
                self.wfile.write(payload)

        @staticmethod
        def _parts(
            data: bytes, ranges: list[tuple[int, int]] | None
        ) -> Iterator[bytes]:
            """Content type then body of a ranged answer; nothing for a whole file."""
            if not ranges:
                return
            if len(ranges) == 1:
                start, end = ranges[0]
                yield b'application/octet-stream'
                yield data[start : end + 1]
                return
            yield f'multipart/byteranges; boundary={_BOUNDARY}'.encode()
            for start, end in ranges:
                yield (
                    f'--{_BOUNDARY}\r\nContent-Type: application/octet-stream\r\n'
                    f'Content-Range: bytes {start}-{end}/{len(data)}\r\n\r\n'
                ).encode()
                yield data[start : end + 1]
                yield b'\r\n'
            yield f'--{_BOUNDARY}--\r\n'.encode()

    return RangeHandler


class RangeServer:
    """Serve a directory on 127.0.0.1 (a free port) in a thread.

    Args:
        root: The directory served.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.traffic = Traffic()
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), _handler(root, self.traffic))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        """The URL of a file under the root."""
        host, port = self.httpd.server_address[:2]
        return f'http://{host}:{port}/{name}'

    def start(self) -> 'RangeServer':
        """Start serving."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
