"""Just enough of PostgreSQL's wire protocol (v3) to ask a server whether it answers and to
run a few statements (create the profile's databases and extensions) without starting psql."""

from __future__ import annotations

import socket
import struct
from typing import Optional


class PgError(Exception):
    pass


class Conn:
    def __init__(self, host: str, port: int, user: str, database: str, timeout: float = 2.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        body = b"".join(x.encode() + b"\0" for x in ("user", user, "database", database)) + b"\0"
        self.sock.sendall(struct.pack("!ii", len(body) + 8, 196608) + body)
        while True:
            kind, payload = self._message()
            if kind == b"R":
                if struct.unpack("!i", payload[:4])[0] != 0:
                    self.close()
                    raise PgError("the server asks for a password (onboard's databases trust loopback)")
            elif kind == b"E":
                self.close()
                raise PgError(_error_text(payload))
            elif kind == b"Z":
                return

    def _recv(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise PgError("the server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _message(self) -> tuple[bytes, bytes]:
        head = self._recv(5)
        length = struct.unpack("!i", head[1:5])[0]
        return head[:1], self._recv(length - 4)

    def query(self, sql: str) -> list[list[Optional[str]]]:
        data = sql.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!i", len(data) + 4) + data)
        rows: list[list[Optional[str]]] = []
        error = ""
        while True:
            kind, payload = self._message()
            if kind == b"D":
                n = struct.unpack("!h", payload[:2])[0]
                pos = 2
                row: list[Optional[str]] = []
                for _ in range(n):
                    size = struct.unpack("!i", payload[pos:pos + 4])[0]
                    pos += 4
                    if size < 0:
                        row.append(None)
                    else:
                        row.append(payload[pos:pos + size].decode("utf-8", "replace"))
                        pos += size
                rows.append(row)
            elif kind == b"E":
                error = _error_text(payload)
            elif kind == b"Z":
                if error:
                    raise PgError(error)
                return rows

    def close(self) -> None:
        try:
            self.sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self.sock.close()


def _error_text(payload: bytes) -> str:
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[part[:1]] = part[1:].decode("utf-8", "replace")
    return fields.get(b"M", "error")


def answers(host: str, port: int, user: str = "postgres", database: str = "postgres") -> bool:
    """True when the server accepts a connection and is ready for queries."""
    try:
        Conn(host, port, user, database, timeout=1.0).close()
        return True
    except (OSError, PgError):
        return False


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
