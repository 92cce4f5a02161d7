"""Fake machine trees for doctor tests: os-release files, /proc and /sys pieces, PATH dirs with
small executables, a Nix tree, and local proxy / TCP servers on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

OS_RELEASES = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
              'VERSION="12 (bookworm)"\nID=debian\n',
    "ubuntu": 'NAME="Ubuntu"\nVERSION="22.04.3 LTS (Jammy Jellyfish)"\nID=ubuntu\nID_LIKE=debian\n'
              'PRETTY_NAME="Ubuntu 22.04.3 LTS"\nVERSION_ID="22.04"\n',
    "ubuntu-old": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 18.04.6 LTS"\n'
                  'VERSION_ID="18.04"\n',
    "nixos": 'NAME=NixOS\nID=nixos\nVERSION_ID="23.11"\nPRETTY_NAME="NixOS 23.11 (Tapir)"\n',
    "alpine": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n',
    "mint": 'NAME="Linux Mint"\nVERSION="21.2 (Victoria)"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'
            'PRETTY_NAME="Linux Mint 21.2"\nVERSION_ID="21.2"\n',
}


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def os_root(base: Path, name: str | None, where: str = "etc/os-release") -> Path:
    """A fake root holding one os-release file (or none when name is None)."""
    base.mkdir(parents=True, exist_ok=True)
    if name is not None:
        write(base / where, OS_RELEASES[name])
    return base


def proc_root(base: Path, osrelease: str = "6.1.0-13-amd64", comm: str | None = None,
              environ: str | None = None, cgroup: str = "0::/\n",
              meminfo_kb: tuple[int, int] = (16_000_000, 12_000_000)) -> Path:
    write(base / "sys/kernel/osrelease", osrelease + "\n")
    write(base / "version", f"Linux version {osrelease} (builder@host) #1 SMP\n")
    write(base / "1/cgroup", cgroup)
    if comm is not None:
        write(base / "1/comm", comm + "\n")
    if environ is not None:
        write(base / "1/environ", environ)
    total, avail = meminfo_kb
    write(base / "meminfo", f"MemTotal:       {total} kB\nMemFree:        {avail} kB\n"
                            f"MemAvailable:   {avail} kB\nBuffers:          1000 kB\n")
    return base


def executable(directory: Path, name: str, script: str = "exit 0") -> Path:
    return write(directory / name, "#!/bin/sh\n" + script + "\n", 0o755)


def fake_nix_tree(base: Path, version: str = "2.18.1", owner: int | None = None,
                  build_users_group: bool = False, socket_file: bool = False) -> dict[str, Path]:
    """A Nix root with a store holding a nix binary that answers --version, a default profile
    linking to it, and /etc/nix/nix.conf. Returns the interesting paths."""
    nix_root = base / "nix"
    etc = base / "etc"
    pkg = nix_root / "store" / f"00000000000000000000000000000000-nix-{version}"
    binary = executable(pkg / "bin", "nix", f'echo "nix (Nix) {version}"')
    for other in ("nix-env", "nix-store", "nix-daemon"):
        (pkg / "bin" / other).symlink_to("nix")
    profile = nix_root / "var/nix/profiles/default"
    profile.parent.mkdir(parents=True)
    profile.symlink_to(pkg)
    conf = "sandbox = false\n" + ("build-users-group = nixbld\n" if build_users_group else "")
    write(etc / "nix/nix.conf", conf)
    if owner is not None:
        os.chown(nix_root / "store", owner, owner)
        os.chown(nix_root, owner, owner)
    sock_path = nix_root / "var/nix/daemon-socket/socket"
    if socket_file:
        sock_path.parent.mkdir(parents=True, exist_ok=True)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(sock_path))
        s.close()  # the socket file stays
        assert stat.S_ISSOCK(os.stat(sock_path).st_mode)
    return {"nix_root": nix_root, "etc": etc, "binary": binary, "package": pkg}


class TcpServer:
    """A server on 127.0.0.1 that answers every connection with `reply` (bytes) after reading
    the request head; reply=None accepts and then says nothing (a hanging proxy)."""

    def __init__(self, reply: bytes | None = b"HTTP/1.1 200 Connection established\r\n\r\n") -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            if self.reply is None:
                self._held.append(conn)
                continue
            conn.settimeout(2)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                conn.sendall(self.reply)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for c in self._held:
            c.close()
        self.sock.close()


def closed_port() -> int:
    """A local port nobody listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
