#!/usr/bin/env python3
"""tide's style check: the conventions of tide's C that a program can see.

Rules (docs/development.md, "Style check"):
  banned-call     calls of functions tide does not use (sprintf, strcpy, atoi, system, ...)
  include-layer   an #include "folder/..." across folders of src/ that layers.conf does not allow
  layer-table     a folder of src/ without a row in layers.conf
  file-size       a file over 1,000 lines
  function-size   a function body over 150 lines
  format          a file that clang-format (the repository's .clang-format) would change
  stale-allow     an allow-list entry that no longer applies: remove it

Every violation is printed as `path:line: rule: message`. Violations named in an allow-list
(banned.allow, layers.allow, size.allow, format.allow beside this file) are counted, not
printed (--verbose prints them too). The exit status is 1 when a violation is not allowed or an
allow-list entry is stale, so the lists can only shrink; 2 on a usage or configuration error.

  check_style.py                       the repository this file is in
  check_style.py --root DIR --allow-dir DIR
                                       another tree (tests/style/fixtures) with its own lists
  check_style.py --update-format-list  writes format.allow when it does not exist; otherwise
                                       only removes the entries of files that are now formatted
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

MAX_FILE_LINES = 1000
MAX_FUNCTION_LINES = 150

# The calls, and what to use instead.
BANNED = {
    "sprintf": "snprintf(), xasprintf() or a strbuf",
    "vsprintf": "vsnprintf() or xvasprintf()",
    "strcpy": "xstrdup(), memcpy() with a checked length, or a strbuf",
    "strcat": "a strbuf, or memcpy() with a checked length",
    "strncpy": "memcpy() with a checked length, or xstrndup()",
    "strncat": "a strbuf",
    "gets": "fgets() or getline()",
    "atoi": "parse_int64(), which checks the whole string and the range",
    "atol": "parse_int64(), which checks the whole string and the range",
    "atoll": "parse_int64(), which checks the whole string and the range",
    "strtok": "strtok_r() or strsep()",
    "system": "proc_run() (an argument vector, no shell)",
    "popen": "proc_run() (an argument vector, no shell)",
}

# The trees scanned, relative to the root; tests/style/fixtures holds deliberately broken input.
SCAN_DIRS = ["src", "bench", "tests", "guest"]
SKIP_DIRS = {os.path.join("tests", "style", "fixtures")}


class Violation:
    def __init__(self, path, line, rule, message, key=None):
        self.path, self.line, self.rule, self.message = path, line, rule, message
        self.key = key          # what an allow-list entry names, or None: cannot be allowed
        self.allowed = False

    def __str__(self):
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"


# ---- reading C ------------------------------------------------------------------------------

def strip_c(text, strings=True):
    """Returns text with comments (and, if strings, the insides of string and character
    literals) replaced by spaces; newlines are kept, so line and column numbers still hold."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            if strings:
                out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            else:
                out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def blank_preprocessor(text):
    """Blanks preprocessor lines (with their continuations): a macro's braces are not code."""
    lines = text.split("\n")
    cont = False
    for k, l in enumerate(lines):
        if cont or l.lstrip().startswith("#"):
            cont = l.endswith("\\")
            lines[k] = ""
    return "\n".join(lines)


def shown(path, root):
    """path as printed: relative to the tree checked, else to this repository."""
    for base in (root, REPO):
        if os.path.commonpath([base, os.path.abspath(path)]) == base:
            return os.path.relpath(path, base)
    return path


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


IDENT = re.compile(r"[A-Za-z_]\w*$")


def functions(code):
    """Yields (name, line of the name, body lines) of each function definition: a brace at file
    scope after a closing parenthesis. code is stripped of comments, strings and directives."""
    depth = 0
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[:i].rstrip()
                name, at = function_name(head)
                if name:
                    end = matching_brace(code, i)
                    body = line_of(code, end) - line_of(code, i) - 1
                    yield name, line_of(code, at), body
                    i = end + 1
                    continue
            depth += 1
        elif c == "}":
            depth = max(depth - 1, 0)
        i += 1


def function_name(head):
    """The name of the function whose body starts after head, or (None, 0)."""
    while head.endswith(")"):
        depth, k = 0, len(head) - 1
        while k >= 0:
            if head[k] == ")":
                depth += 1
            elif head[k] == "(":
                depth -= 1
                if depth == 0:
                    break
            k -= 1
        if k < 0:
            return None, 0
        before = head[:k].rstrip()
        m = IDENT.search(before)
        if not m:
            return None, 0
        if m.group(0) in ("__attribute__", "_printf_", "_noreturn_", "_unused_"):
            head = before[:m.start()].rstrip()
            continue
        if m.group(0) in ("if", "while", "for", "switch", "return", "sizeof"):
            return None, 0
        return m.group(0), m.start()
    return None, 0


def matching_brace(code, i):
    depth = 0
    for k in range(i, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


BANNED_RE = re.compile(r"\b(" + "|".join(sorted(BANNED)) + r")\s*\(")
INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)


# ---- the tree -------------------------------------------------------------------------------

def c_files(root):
    files = []
    for top in SCAN_DIRS:
        for d, subdirs, names in os.walk(os.path.join(root, top)):
            rel = os.path.relpath(d, root)
            subdirs[:] = sorted(s for s in subdirs
                                if not s.startswith(".") and os.path.join(rel, s) not in SKIP_DIRS)
            files += [os.path.join(rel, f) for f in sorted(names) if f.endswith((".c", ".h"))]
    return files


def src_folder(path):
    parts = path.split(os.sep)
    return parts[1] if len(parts) > 2 and parts[0] == "src" else None


def is_leaf(path):
    """Test files, benchmarks, tests/ and bench/: nothing links them but their own test or
    benchmark."""
    base = os.path.basename(path)
    return (path.startswith(("tests" + os.sep, "bench" + os.sep))
            or base.startswith("test_") or base.endswith(("_test.c", "_bench.c")))


def read_layers(path):
    """layers.conf: `folder: folders it may include` per line; returns {folder: set}, leaf rule."""
    table, leaves_exclude, lineno = {}, None, {}
    with open(path) as f:
        for k, raw in enumerate(f, 1):
            l = raw.split("#", 1)[0].strip()
            if not l:
                continue
            name, _, rest = l.partition(":")
            name = name.strip()
            if name == "leaves-except":
                leaves_exclude = set(rest.split())
                continue
            table[name] = set(rest.split())
            lineno[name] = k
    for name, allowed in table.items():
        unknown = allowed - set(table)
        if unknown:
            sys.exit(f"{path}:{lineno[name]}: {name} names unknown folders: {' '.join(sorted(unknown))}")
    return table, leaves_exclude or set(), lineno


def resolve_folder(root, path, inc, folders):
    """The folder of src/ an include names, or None for the same folder or outside src/."""
    first = inc.split("/", 1)[0]
    if "/" in inc and first in folders:
        return first
    full = os.path.normpath(os.path.join(os.path.dirname(path), inc))
    return src_folder(full) if os.path.exists(os.path.join(root, full)) else None


# ---- allow-lists ----------------------------------------------------------------------------

class AllowList:
    """A list of `path [item]  # reason` lines. Entries used by a violation are live; the rest
    are reported stale."""

    def __init__(self, allow_dir, name, root):
        self.path = os.path.join(allow_dir, name)
        self.shown = shown(self.path, root)
        self.entries = {}       # key -> line number
        self.exists = os.path.exists(self.path)
        if self.exists:
            with open(self.path) as f:
                for k, raw in enumerate(f, 1):
                    l = raw.split("#", 1)[0].split()
                    if l:
                        key = tuple(l)
                        if key in self.entries:
                            sys.exit(f"{self.shown}:{k}: duplicate entry (first on line {self.entries[key]})")
                        self.entries[key] = k
        self.used = set()

    def allow(self, v):
        key = v.key[1:]         # v.key[0] names the list
        if key in self.entries:
            v.allowed = True
            self.used.add(key)

    def stale(self, why):
        return [Violation(self.shown, line, "stale-allow", f"{' '.join(key)}: {why(key)}; remove the entry")
                for key, line in sorted(self.entries.items(), key=lambda e: e[1]) if key not in self.used]


# ---- clang-format ---------------------------------------------------------------------------

FORMAT_RE = re.compile(r"^(.*?):(\d+):(\d+): (?:error|warning): code should be clang-formatted")


def clang_format(root, files, style):
    """{path: [lines clang-format would change]} for files, or a string saying why it could not
    look. A missing clang-format is an error, never a pass."""
    exe = os.environ.get("CLANG_FORMAT", "clang-format")
    if not shutil.which(exe):
        return f"{exe} not found: install Debian's clang-format (scripts/setup does)"
    out = {f: [] for f in files}
    for k in range(0, len(files), 200):
        chunk = files[k:k + 200]
        p = subprocess.run([exe, "--dry-run", "--Werror", f"--style=file:{style}"] + chunk,
                           cwd=root, capture_output=True, text=True)
        seen = False
        for l in p.stderr.splitlines():
            m = FORMAT_RE.match(l)
            if m and m.group(1) in out:
                out[m.group(1)].append(int(m.group(2)))
                seen = True
        if p.returncode != 0 and not seen:
            return f"{exe} failed ({p.returncode}): {p.stderr.strip()[:500]}"
    return out


# ---- the check ------------------------------------------------------------------------------

def check(args):
    root = os.path.abspath(args.root)
    allow_dir = os.path.abspath(args.allow_dir)
    table, leaves_exclude, _ = read_layers(args.layers)
    files = c_files(root)
    violations = []

    present = {p.split(os.sep)[1] for p in files if src_folder(p)}
    for folder in sorted(present - set(table)):
        violations.append(Violation(shown(args.layers, root), 1, "layer-table",
                                    f"src/{folder}/ has no row: say which folders it may include"))
    folders = set(table) | present

    for path in files:
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        nocomment = strip_c(text, strings=False)
        code = strip_c(text)

        for m in BANNED_RE.finditer(code):
            before = code[:m.start()].rstrip()
            if before.endswith((".", "->")):
                continue        # a member, not the libc function
            name = m.group(1)
            violations.append(Violation(path, line_of(code, m.start()), "banned-call",
                                        f"{name}(): use {BANNED[name]}", ("banned", path, name)))

        here = src_folder(path)
        for m in INCLUDE_RE.finditer(nocomment):
            target = resolve_folder(root, path, m.group(1), folders)
            if target is None or target == here:
                continue
            if is_leaf(path):
                if target in leaves_exclude:
                    violations.append(Violation(path, line_of(nocomment, m.start()), "include-layer",
                                                f"tests and benchmarks may not include {m.group(1)}",
                                                ("layers", path, m.group(1))))
                continue
            if here is None or here not in table or target in table[here]:
                continue
            may = " ".join(sorted(table[here])) or "nothing"
            violations.append(Violation(path, line_of(nocomment, m.start()), "include-layer",
                                        f"{here} may not include {m.group(1)} ({here} may include: {may})",
                                        ("layers", path, m.group(1))))

        nlines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        if nlines > MAX_FILE_LINES:
            violations.append(Violation(path, MAX_FILE_LINES + 1, "file-size",
                                        f"{nlines} lines (at most {MAX_FILE_LINES}): split the file",
                                        ("size", path)))
        for name, line, body in functions(blank_preprocessor(code)):
            if body > MAX_FUNCTION_LINES:
                violations.append(Violation(path, line, "function-size",
                                            f"{name}() has {body} lines (at most {MAX_FUNCTION_LINES}): split it",
                                            ("size", path, name)))

    lists = {
        "banned": AllowList(allow_dir, "banned.allow", root),
        "layers": AllowList(allow_dir, "layers.allow", root),
        "size": AllowList(allow_dir, "size.allow", root),
        "format": AllowList(allow_dir, "format.allow", root),
    }
    for v in violations:
        if v.key:
            lists[v.key[0]].allow(v)

    formatted = []
    if not args.no_format:
        result = clang_format(root, files, args.style)
        if isinstance(result, str):
            violations.append(Violation(shown(args.style, root), 1, "format", result))
        else:
            for path in files:
                lines = sorted(set(result[path]))
                if not lines:
                    formatted.append(path)
                    continue
                near = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
                v = Violation(path, lines[0], "format",
                              f"not as .clang-format has it, near line(s) {near}; run clang-format -i {path}",
                              ("format", path))
                lists["format"].allow(v)
                violations.append(v)

    if args.update_format_list:
        return update_format_list(lists["format"], root, files, formatted, violations, args)

    def gone(path):
        return not os.path.exists(os.path.join(root, path))

    def why_banned(key):
        return "no such file" if gone(key[0]) else f"no {key[1]}() call there any more"

    def why_layers(key):
        return "no such file" if gone(key[0]) else "no such include any more, or layers.conf allows it"

    def why_size(key):
        if gone(key[0]):
            return "no such file"
        if len(key) == 1:
            return f"at most {MAX_FILE_LINES} lines now"
        return f"no {key[1]}() over {MAX_FUNCTION_LINES} lines there any more"

    def why_format(key):
        return "no such file" if gone(key[0]) else "formatted now"

    stale = lists["banned"].stale(why_banned) + lists["layers"].stale(why_layers) + lists["size"].stale(why_size)
    if not args.no_format and not any(v.rule == "format" and v.key is None for v in violations):
        stale += lists["format"].stale(why_format)

    bad = [v for v in violations if not v.allowed] + stale
    for v in violations:
        if v.allowed and args.verbose:
            print(f"{v} (allowed)")
    for v in bad:
        print(v)
    counts = {}
    for v in violations:
        if v.allowed:
            counts[v.rule] = counts.get(v.rule, 0) + 1
    allowed = ", ".join(f"{r} {n}" for r, n in sorted(counts.items())) or "none"
    print(f"style: {len(files)} file(s), {len(bad)} violation(s); allow-listed: {allowed}"
          + ("; formatting not checked (--no-format)" if args.no_format else ""))
    return 1 if bad else 0


def update_format_list(fl, root, files, formatted, violations, args):
    if any(v.rule == "format" and v.key is None for v in violations):
        print("style: cannot update format.allow: clang-format did not run", file=sys.stderr)
        return 2
    failing = [p for p in files if p not in formatted]
    if not fl.exists:
        with open(fl.path, "w") as f:
            f.write("# Files that clang-format (the repository's .clang-format) would change, written once by\n"
                    "# `tests/style/check_style.py --update-format-list`. The list only shrinks: format a file\n"
                    "# (clang-format -i FILE) in a commit of its own, then run the same command, which now only\n"
                    "# removes the files that pass. New files are formatted from the start.\n")
            for p in failing:
                f.write(p + "\n")
        print(f"style: wrote {fl.shown} with {len(failing)} file(s)")
        return 0
    with open(fl.path) as f:
        lines = f.readlines()
    keep, removed = [], []
    for l in lines:
        key = tuple(l.split("#", 1)[0].split())
        if key and (key[0] in formatted or not os.path.exists(os.path.join(root, key[0]))):
            removed.append(key[0])
            continue
        keep.append(l)
    with open(fl.path, "w") as f:
        f.writelines(keep)
    print(f"style: removed {len(removed)} file(s) from {fl.shown}" + "".join(f"\n  {p}" for p in removed))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--root", default=REPO, help="the tree to check (default: this repository)")
    ap.add_argument("--allow-dir", default=HERE, help="where the allow-lists are (default: beside this file)")
    ap.add_argument("--layers", default=os.path.join(HERE, "layers.conf"), help="the table of allowed includes")
    ap.add_argument("--style", default=os.path.join(REPO, ".clang-format"), help="the clang-format style file")
    ap.add_argument("--no-format", action="store_true", help="skip the formatting check (it is reported)")
    ap.add_argument("--update-format-list", action="store_true",
                    help="write format.allow if absent, else remove the files that are now formatted")
    ap.add_argument("--verbose", "-v", action="store_true", help="print allow-listed violations too")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.root, "src")):
        sys.exit(f"{args.root}: no src/ here")
    sys.exit(check(args))


if __name__ == "__main__":
    main()
