"""benchlib: what tide's Python benchmarks share — a tided of their own in a temporary directory
(embedded store and libvirt, unix socket only), HTTP over its socket, the tiny guest's image, and
consoles read incrementally with the host time each line was first seen.

    with Tided("autoscale") as t:        # starts tided; stops it (by pid), destroys its domains,
        t.image_tiny()                   # removes the directory (kept and named on failure)
        st, body = t.jcall("POST", "/v1/flavors", {...})
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(prog, msg):
    print(f"bench/{prog}: {msg}", file=sys.stderr, flush=True)


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


class Tided:
    def __init__(self, prog):
        self.prog = prog
        self.tided = os.environ.get("TIDED", os.path.join(TOP, "build/src/daemon/tided"))
        self.guest = os.environ.get("TIDE_GUEST_DIR", os.path.join(TOP, "build/guest"))
        self.tmp = self.proc = None
        self.ok = False

    def __enter__(self):
        for f in ("tiny.qcow2", "vmlinuz", "initrd.img", "cmdline"):
            if not os.path.exists(os.path.join(self.guest, f)):
                raise SystemExit(f"bench/{self.prog}: no {f} in {self.guest}: run scripts/mkimage {self.guest}")
        self.tmp = tempfile.mkdtemp(prefix=f"tide-bench-{self.prog}-")
        self.state = os.path.join(self.tmp, "state")
        self.sock = os.path.join(self.state, "tided.sock")
        self.log_file = open(os.path.join(self.tmp, "tided.log"), "w")
        self.proc = subprocess.Popen([self.tided, "--state-dir", self.state, "--listen", "none"],
                                     stdout=self.log_file, stderr=self.log_file)
        for _ in range(400):
            if os.path.exists(self.sock):
                try:
                    if self.call("GET", "/v1/hosts")[0] == 200:
                        return self
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.__exit__(None, None, None)
        raise SystemExit(f"bench/{self.prog}: tided did not start (see its log)")

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        embed = f"qemu:///embed?root={self.state}/libvirt"
        if os.path.isdir(os.path.join(self.state, "libvirt")):
            names = subprocess.run(["virsh", "-q", "-c", embed, "list", "--all", "--name"],
                                   capture_output=True, text=True).stdout.split()
            for d in names:
                subprocess.run(["virsh", "-q", "-c", embed, "destroy", d], capture_output=True)
                subprocess.run(["virsh", "-q", "-c", embed, "undefine", d], capture_output=True)
        if self.ok:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log(self.prog, f"state kept in {self.tmp}")
        return False

    def call(self, method, path, body=None):
        c = UnixHTTP(self.sock)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def jcall(self, method, path, body=None):
        st, data = self.call(method, path, body)
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, data

    def must(self, method, path, body=None, want=(200, 201, 202, 204)):
        st, b = self.jcall(method, path, body)
        if st not in want:
            raise RuntimeError(f"{method} {path}: {st} {b}")
        return b

    def image_tiny(self, name="tiny"):
        cmdline = open(os.path.join(self.guest, "cmdline")).read().strip()
        self.must("POST", "/v1/images", {
            "name": name, "disk": os.path.join(self.guest, "tiny.qcow2"),
            "kernel": os.path.join(self.guest, "vmlinuz"), "initrd": os.path.join(self.guest, "initrd.img"),
            "cmdline": cmdline})


class Console:
    """An instance's console, read incrementally; each complete line is stamped with the host
    time at which it was first seen."""

    def __init__(self, tided, name):
        self.t, self.name, self.offset, self.partial, self.lines = tided, name, 0, "", []

    def poll(self):
        st, data = self.t.call("GET", f"/v1/instances/{self.name}/console?offset={self.offset}")
        if st != 200 or not data:
            return
        now = time.time()
        self.offset += len(data)
        text = self.partial + data.decode("utf-8", "replace")
        parts = text.split("\n")
        self.partial = parts.pop()
        for p in parts:
            self.lines.append((now, p.rstrip("\r")))

    def find(self, pred, after=0.0):
        for t, l in self.lines:
            if t >= after and pred(l):
                return t, l
        return None
