#!/usr/bin/env python3
"""doccheck.py: the man pages and --help agree on the options, both ways.

  doccheck.py SNAPCOWFS SNAPCOWCTL MANDIR

Every long option that `--help` prints (snapcowfs, snapcowctl and each snapcowctl command)
must appear in the man page, and every long option in the man page's SYNOPSIS, OPTIONS and
COMMANDS sections must appear in some `--help`.
"""

import os
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
ROFF_OPT = re.compile(r"\\-\\-([a-z][a-z0-9]*(?:\\-[a-z0-9]+)*)")


def help_options(cmd):
    out = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} --help exited {out.returncode}: {out.stderr}")
    return set(OPT.findall(out.stdout + out.stderr))


def man_options(path, sections=("SYNOPSIS", "OPTIONS", "COMMANDS")):
    everywhere, in_sections = set(), set()
    section = None
    with open(path) as f:
        for line in f:
            if line.startswith(".SH"):
                section = line[3:].strip().strip('"')
                continue
            found = {o.replace("\\-", "-") for o in ROFF_OPT.findall(line)}
            everywhere |= found
            if section in sections:
                in_sections |= found
    return everywhere, in_sections


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    fs, ctl, mandir = sys.argv[1:]
    problems = []
    pages = {
        "snapcowfs.8": [[fs]],
        "snapcowctl.8": [[ctl], [ctl, "snapshot", "create"], [ctl, "snapshot", "delete"],
                         [ctl, "snapshot", "list"], [ctl, "status"]],
    }
    for page, cmds in pages.items():
        helped = set()
        for c in cmds:
            helped |= help_options(c)
        everywhere, documented = man_options(os.path.join(mandir, page))
        for o in sorted(helped - everywhere):
            problems.append(f"{page}: --{o} is in --help but not in the man page")
        for o in sorted(documented - helped):
            problems.append(f"{page}: --{o} is in the man page but in no --help")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"doccheck: {'1 failed' if problems else '1 passed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
