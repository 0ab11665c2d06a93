#!/usr/bin/env python3
"""Runs check_style.py on each tree of tests/style/fixtures and compares what it prints with the
tree's `expected` file, whole: each rule must find what is planted there (a sprintf() call, an
upward include, a 1,001-line file, a 151-line function, a misformatted file, stale allow-list
entries, a missing clang-format) and nothing else, and must pass what is allowed or clean. The
exit status the check must have follows from its last line (0 for "0 violation(s)", else 1).
A fixture's `env` file, if any, holds NAME=VALUE lines for the check's environment.

  run_fixtures.py [NAME...]      the fixtures named, or all of them
  run_fixtures.py --update NAME  rewrites NAME/expected from what the check prints: read the diff
"""
import difflib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


def run(name):
    d = os.path.join(FIXTURES, name)
    env = dict(os.environ)
    if os.path.exists(os.path.join(d, "env")):
        with open(os.path.join(d, "env")) as f:
            env.update(l.strip().split("=", 1) for l in f if l.strip() and not l.startswith("#"))
    p = subprocess.run([sys.executable, os.path.join(HERE, "check_style.py"), "--root", d, "--allow-dir", d],
                       capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def main():
    args = sys.argv[1:]
    update = "--update" in args
    names = [a for a in args if a != "--update"] or sorted(os.listdir(FIXTURES))
    failed = 0
    for name in names:
        rc, out, err = run(name)
        path = os.path.join(FIXTURES, name, "expected")
        if update:
            with open(path, "w") as f:
                f.write(out)
            print(f"{name}: wrote expected")
            continue
        with open(path) as f:
            want = f.read()
        want_rc = 0 if " 0 violation(s)" in (want.splitlines() or [""])[-1] else 1
        if out == want and rc == want_rc and not err:
            print(f"ok {name} (exit {rc})")
            continue
        failed += 1
        print(f"FAIL {name}: exit {rc}, expected {want_rc}")
        sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), out.splitlines(True),
                                                   f"{name}/expected", "check_style.py"))
        if err:
            print(err, end="")
    print(f"{len(names) - failed} of {len(names)} fixtures as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
