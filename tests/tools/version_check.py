#!/usr/bin/env python3
"""version_check.py: one version everywhere, from CMakeLists.txt.

  version_check.py CMAKELISTS CHANGELOG MANDIR SNAPCOWFS SNAPCOWCTL

The version is `project(snapcowfs VERSION x.y.z)` in CMAKELISTS. `snapcowfs --version`/`-V`
and `snapcowctl --version`/`-V` print it, the first line of the Debian changelog carries it as
its upstream version, and a man page that names a version in its .TH line names this one.
"""

import os
import re
import subprocess
import sys

VERSION = r"[0-9]+(?:\.[0-9]+)+"


def project_version(cmakelists):
    with open(cmakelists) as f:
        text = re.sub(r"#.*", "", f.read())
    m = re.search(r"\bproject\s*\(\s*snapcowfs\b[^)]*\bVERSION\s+(" + VERSION + r")\b", text)
    if not m:
        raise SystemExit(f"{cmakelists}: no project(snapcowfs VERSION x.y.z)")
    return m.group(1)


def changelog_version(changelog):
    """The upstream part of the first entry's version: no epoch, no Debian revision."""
    with open(changelog) as f:
        first = f.readline().rstrip("\n")
    m = re.match(r"^(\S+) \(([^)\s]+)\) ", first)
    if not m:
        return None, f"{changelog}: first line is not 'PACKAGE (VERSION) ...': {first!r}"
    version = m.group(2).split(":", 1)[-1]
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return version, None if m.group(1) == "snapcowfs" else \
        f"{changelog}: first entry is for package {m.group(1)!r}, not snapcowfs"


def printed_version(binary, flag, name):
    r = subprocess.run([binary, flag], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return None, f"{name} {flag} exited {r.returncode}: {r.stderr.strip()}"
    first = r.stdout.splitlines()[0] if r.stdout else ""
    m = re.match(r"^" + re.escape(name) + r" (" + VERSION + r")(?:\s|$)", first)
    if not m:
        return None, f"{name} {flag} printed {first!r}, not '{name} VERSION ...'"
    return m.group(1), None


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    cmakelists, changelog, mandir, fs, ctl = argv
    want = project_version(cmakelists)
    problems = []

    for binary, name in ((fs, "snapcowfs"), (ctl, "snapcowctl")):
        for flag in ("--version", "-V"):
            got, err = printed_version(binary, flag, name)
            if err:
                problems.append(err)
            elif got != want:
                problems.append(f"{name} {flag} prints version {got}, CMakeLists.txt says {want}")

    got, err = changelog_version(changelog)
    if err:
        problems.append(err)
    if got is not None and got != want:
        problems.append(f"{changelog}: upstream version {got}, CMakeLists.txt says {want}")

    for page in sorted(os.listdir(mandir)):
        if not re.search(r"\.[1-9]$", page):
            continue
        with open(os.path.join(mandir, page)) as f:
            th = next((l for l in f if l.startswith(".TH ")), None)
        if th is None:
            problems.append(f"{page}: no .TH line")
            continue
        for v in re.findall(VERSION, re.sub(r"\d{4}-\d{2}-\d{2}", "", th)):
            if v != want:
                problems.append(f"{page}: .TH names version {v}, CMakeLists.txt says {want}")

    for p in problems:
        print(p, file=sys.stderr)
    print(f"version_check: version {want}, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
