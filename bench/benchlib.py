"""benchlib: what tide's Python benchmarks share — a tided of their own in a temporary directory
(embedded store and libvirt, unix socket only), HTTP over its socket, the tiny guest's image,
instances and their statistics, events, consoles read incrementally with the host time each line
was first seen, percentiles, and the end of a run: targets checked, one JSON object, an exit code.

    with Tided("autoscale") as t:        # starts tided; stops it (by pid), destroys its domains,
        t.image_tiny()                   # removes the directory (kept and named on failure)
        st, body = t.jcall("POST", "/v1/flavors", {...})

Exit codes of the benchmarks (EXIT_*): 0 every part ran and every target was met; 1 a part
failed (its error is in the JSON's "errors", its figures are null); 2 bad arguments; 3 every
part ran but a target was missed (named in "targets_missed").
"""
import datetime
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_MISSED = 0, 1, 2, 3


def log(prog, msg):
    print(f"bench/{prog}: {msg}", file=sys.stderr, flush=True)


def ts(s):
    """An API time ("2026-01-02T03:04:05.678Z") as seconds since the epoch."""
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def wait(pred, timeout, what, step=0.1):
    """pred()'s first true value, polled every step s; RuntimeError naming `what` after timeout s."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= end:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(step)


def pct(values, p):
    """The p-th percentile by linear interpolation between the two nearest ranks (numpy's default):
    rank (n - 1) * p / 100 of the sorted values. With 20 values p99 lies between the largest two,
    not at the largest. None without values."""
    v = sorted(values)
    if not v:
        return None
    r = (len(v) - 1) * p / 100.0
    lo, hi = math.floor(r), math.ceil(r)
    return round(v[lo] + (v[hi] - v[lo]) * (r - lo), 1)


PCT_METHOD = "linear interpolation between the two nearest ranks: rank (n-1)*p/100 of the sorted samples"


def sleep_until_sh(at):
    """Shell lines for a guest's user-data that wait until the wall-clock second `at` (the guest's
    RTC is the host's clock), sleeping through most of it at once: polling the clock often would
    keep an emulated CPU busy."""
    return (f"s=$(({at} - $(date +%s) - 1)); [ $s -gt 0 ] && sleep $s\n"
            f"while [ \"$(date +%s)\" -lt {at} ]; do sleep 0.1; done\n")


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

    def host(self):
        """The one host of this tided, as it registered itself (cpus, mem_mib, ...)."""
        hosts = wait(lambda: self.must("GET", "/v1/hosts")["hosts"], 30, "the host to register")
        if len(hosts) != 1:
            raise RuntimeError(f"{len(hosts)} hosts registered, expected 1")
        return hosts[0]

    def create(self, name, flavor, user_data=None, image="tiny", **policy):
        body = {"name": name, "flavor": flavor, "image": image}
        if user_data is not None:
            body["user_data"] = user_data
        body.update(policy)
        return self.must("POST", "/v1/instances", body, want=(202,))

    def wait_running(self, names, timeout=120):
        """Waits until every instance of names is running; RuntimeError on error or timeout."""
        def up(n):
            inst = self.must("GET", f"/v1/instances/{n}")
            if inst["status"] == "error":
                raise RuntimeError(f"{n}: {inst.get('error')}")
            return inst if inst["status"] == "running" else None
        end = time.time() + timeout
        return [wait(lambda: up(n), max(0.0, end - time.time()), f"{n} running", step=0.05) for n in names]

    def delete(self, names, timeout=120):
        """Deletes the instances and waits until they are gone."""
        for n in names:
            self.must("DELETE", f"/v1/instances/{n}", want=(202, 204, 404))
        end = time.time() + timeout
        for n in names:
            wait(lambda: self.call("GET", f"/v1/instances/{n}")[0] == 404, max(0.0, end - time.time()),
                 f"{n} gone", step=0.02)

    def stats(self, name):
        """The instance's latest sample (GET /v1/instances/{name}/stats: "current"), or None."""
        st, s = self.jcall("GET", f"/v1/instances/{name}/stats?limit=1")
        if st != 200 or not isinstance(s, dict):
            return None
        return s.get("current") or None

    def cpu_shares(self, name):
        """The CPU shares the kernel applies to the instance's domain: cpu.shares (cgroup v1) or
        cpu.weight (v2) of the cgroup of its QEMU (libvirt's pid file, the domain being
        tide-<name>), read from /sys/fs/cgroup. RuntimeError when it cannot be read."""
        pidf = os.path.join(self.state, "libvirt", "run", "qemu", f"tide-{name}.pid")
        try:
            pid = int(open(pidf).read().strip())
            lines = open(f"/proc/{pid}/cgroup").read().splitlines()
        except (OSError, ValueError) as e:
            raise RuntimeError(f"{name}: QEMU's cgroup: {e}")
        for l in lines:
            _, ctrl, path = l.split(":", 2)
            base = re.sub(r"/(emulator|vcpu\d+)$", "", path)
            if "cpu" in ctrl.split(","):
                f = os.path.join(f"/sys/fs/cgroup/{ctrl}" + base, "cpu.shares")
            elif ctrl == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                f = os.path.join("/sys/fs/cgroup" + base, "cpu.weight")
            else:
                continue
            try:
                return int(open(f).read())
            except (OSError, ValueError) as e:
                raise RuntimeError(f"{name}: {f}: {e}")
        raise RuntimeError(f"{name}: no cpu cgroup for QEMU {pid}")

    def events(self, type=None, instance=None, group=None, t0=None, t1=None):
        """Events (GET /v1/events, the newest 1000 of the instance or group) of the given type
        with t0 <= time < t1, oldest first. RuntimeError when 1000 came back and the oldest is
        not older than t0: some may have been left out."""
        q = "limit=1000" + (f"&instance={instance}" if instance else "") + (f"&group={group}" if group else "")
        evs = self.must("GET", f"/v1/events?{q}")["events"]
        if len(evs) == 1000 and (t0 is None or ts(evs[0]["time"]) >= t0):
            raise RuntimeError(f"events {q}: the newest 1000 do not reach back to the window")
        return [e for e in evs if (type is None or e.get("type") == type)
                and (t0 is None or ts(e["time"]) >= t0) and (t1 is None or ts(e["time"]) < t1)]

    def image_tiny(self, name="tiny"):
        cmdline = open(os.path.join(self.guest, "cmdline")).read().strip()
        self.must("POST", "/v1/images", {
            "name": name, "disk": os.path.join(self.guest, "tiny.qcow2"),
            "kernel": os.path.join(self.guest, "vmlinuz"), "initrd": os.path.join(self.guest, "initrd.img"),
            "cmdline": cmdline})


LOAD_RE = re.compile(r"TIDE-LOAD t=(\d+) work=(\d+) rate=(\d+) threads=(\d+) mem_mib=(\d+)")


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

    def wait_line(self, text, timeout, step=0.1):
        """(host time, line) of the first line containing text, polling every step s;
        RuntimeError after timeout s."""
        def seen():
            self.poll()
            return self.find(lambda l: text in l)
        return wait(seen, timeout, f"{self.name}'s {text}", step=step)

    def loads(self, after=0.0):
        """The load generator's TIDE-LOAD lines seen at or after `after`:
        (host time, t, work, rate, threads, mem_mib)."""
        out = []
        for t, l in self.lines:
            m = LOAD_RE.search(l)
            if m and t >= after:
                out.append((t,) + tuple(int(x) for x in m.groups()))
        return out


class Stats:
    """An instance's statistics samples, each kept once (by its t_ms)."""

    def __init__(self, tided, name):
        self.t, self.name, self.samples = tided, name, []

    def poll(self):
        cur = self.t.stats(self.name)
        if cur and (not self.samples or self.samples[-1].get("t_ms") != cur.get("t_ms")):
            self.samples.append(cur)

    def last(self):
        return self.samples[-1] if self.samples else {}

    def between(self, t0, t1):
        """Samples taken (t_ms) in [t0, t1) seconds since the epoch."""
        return [s for s in self.samples if t0 <= s.get("t_ms", 0) / 1000 < t1]


class Targets:
    """A benchmark's targets: name -> (op, value) with op one of ">=", "<=", "==".
    check(out) adds "targets" (each with its figure and whether it was met) and "targets_missed"
    to out; a figure that is null counts as missed."""

    OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}

    def __init__(self, **targets):
        self.targets = targets

    def check(self, out):
        res, missed = {}, []
        for k, (op, v) in self.targets.items():
            got = out.get(k)
            met = got is not None and self.OPS[op](got, v)
            res[k] = {"target": f"{op} {v}", "measured": got, "met": met}
            if not met:
                missed.append(k)
        out["targets"], out["targets_missed"] = res, missed
        return missed


def finish(prog, out, errors, targets=None):
    """Prints out (with "errors" and the targets' verdict) as one JSON line and returns the exit
    code: EXIT_FAILED when a part failed, else EXIT_MISSED when a target was missed, else EXIT_OK."""
    out["errors"] = errors
    missed = targets.check(out) if targets else []
    print(json.dumps(out), flush=True)
    for e in errors:
        log(prog, f"FAILED: {e}")
    for k in missed:
        log(prog, f"target missed: {k} = {out.get(k)} (target {out['targets'][k]['target']})")
    if errors:
        return EXIT_FAILED
    return EXIT_MISSED if missed else EXIT_OK
