#!/usr/bin/env python3
"""doccheck.py: the man pages are lint-clean, and they and --help agree on the options.

  doccheck.py lint MANDIR
  doccheck.py options SNAPCOWFS SNAPCOWCTL MANDIR

lint: every page in MANDIR passes `mandoc -T lint -W warning` and
`man --warnings` with nothing on stderr; style-level mandoc messages are printed, not fatal.
Both linters are first shown a broken page and must complain about it.

options: for each program and each of its commands (found in the usage lines of `--help`):
  - every option `--help` prints (usage lines and option table, long and short) is in the
    man page: tagged in OPTIONS (the program, and -h/--help of every command), tagged under
    the command in COMMANDS, and in the command's SYNOPSIS line;
  - every option the man page tags or puts in SYNOPSIS is printed by that command's --help,
    and the program accepts it (`PROG [COMMAND] OPTION [VALUE] --help` exits 0, while an
    unknown option exits non-zero).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

# An option as --help prints it, or as a man page shows it once roff escapes are gone.
OPT = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[A-Za-z0-9])(?![\w-])")
# boost::program_options' table: "  -h [ --help ]", "  --threads arg (=16)".
TABLE_ROW = re.compile(r"^  (-[A-Za-z0-9] \[ --[a-z0-9-]+ \]|--[a-z0-9-]+|-[A-Za-z0-9])(?=\s|$)")
COMMAND_WORD = re.compile(r"^[a-z][a-z-]*$")
FONT_MACROS = {"B", "I", "SM", "SB"}
ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}

BROKEN_PAGE = '.TH T 8 2026-01-01 t "t"\n.SH NAME\nt \\- t\n.SH DESCRIPTION\n.NOSUCHMACRO\nx\n'


class Problems(list):
    def add(self, where, what):
        self.append(f"{where}: {what}")


# ---- lint -----------------------------------------------------------------------------------

def run(cmd, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def man_env():
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    return env


def lint_page(path):
    """Returns (errors, notes) for one page."""
    errors, notes = [], []
    r = run(["mandoc", "-T", "lint", "-W", "warning", path])
    if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
        errors += (r.stdout + r.stderr).strip().splitlines() or [f"mandoc exited {r.returncode}"]
    r = run(["mandoc", "-T", "lint", "-W", "style", path])
    notes += [l for l in (r.stdout + r.stderr).splitlines() if ": STYLE: " in l]
    r = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path], env=man_env())
    if r.returncode != 0 or r.stderr.strip():
        errors += [f"man --warnings: {l}" for l in r.stderr.strip().splitlines()] or \
                  [f"man --warnings exited {r.returncode}"]
    return errors, notes


def lint(mandir):
    problems = Problems()
    for tool, package in (("mandoc", "mandoc"), ("man", "man-db"), ("groff", "groff-base")):
        if not shutil.which(tool):
            problems.add(tool, f"not found (Debian package {package})")
    if problems:
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        broken = os.path.join(tmp, "broken.8")
        with open(broken, "w") as f:
            f.write(BROKEN_PAGE)
        errors, _ = lint_page(broken)
        if not any("mandoc" in e for e in errors):
            problems.add("mandoc", "does not report an unknown macro: the lint cannot be trusted")
        if not any(e.startswith("man --warnings") for e in errors):
            problems.add("man --warnings", "does not report an unknown macro: the lint cannot be trusted")
    pages = sorted(p for p in os.listdir(mandir) if re.search(r"\.[1-9]$", p))
    if not pages:
        problems.add(mandir, "no man pages")
    for page in pages:
        errors, notes = lint_page(os.path.join(mandir, page))
        for e in errors:
            problems.add(page, e)
        for n in notes:
            print(f"note (style): {n}")
    return problems


# ---- --help ---------------------------------------------------------------------------------

class Help:
    """What one `--help` prints: option table rows and usage lines (one per command)."""

    def __init__(self, argv):
        r = run(argv + ["--help"])
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} --help exited {r.returncode}: {r.stderr.strip()}")
        self.argv = argv
        self.text = r.stdout
        self.table = set()    # options in the "Options:" table
        self.usage = []       # (command words, options) per usage line
        in_usage = False
        for line in self.text.splitlines():
            m = TABLE_ROW.match(line)
            if m:
                self.table |= set(OPT.findall(m.group(1)))
                continue
            if line.startswith("usage:"):
                in_usage = True
                line = line[len("usage:"):]
            if not line.strip():
                in_usage = False
            if in_usage:
                self._usage_line(line)

    def _usage_line(self, line):
        prog = os.path.basename(self.argv[0])
        words = line.split()
        if words and words[0] == prog:
            cmd = []
            for w in words[1:]:
                if not COMMAND_WORD.match(w):
                    break
                cmd.append(w)
            self.usage.append((" ".join(cmd), set(OPT.findall(line))))
        elif self.usage:  # continuation of the previous usage line
            self.usage[-1][1].update(OPT.findall(line))

    def options(self):
        out = set(self.table)
        for _, opts in self.usage:
            out |= opts
        return out


# ---- man page -------------------------------------------------------------------------------

def roff_args(s):
    """Splits macro arguments the way roff does (double quotes group, "" is a quote)."""
    args, cur, quoted, i, has = [], "", False, 0, False
    while i < len(s):
        c = s[i]
        if quoted:
            if c == '"' and s[i + 1:i + 2] == '"':
                cur += '"'
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur += c
        elif c == '"':
            quoted, has = True, True
        elif c in " \t":
            if cur or has:
                args.append(cur)
            cur, has = "", False
        else:
            cur += c
        i += 1
    if cur or has:
        args.append(cur)
    return args


def unescape(s):
    s = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", s)      # font changes
    s = re.sub(r"\\s[+-]?\d", "", s)                 # size changes
    s = s.replace("\\-", "-").replace("\\~", " ").replace("\\ ", " ").replace("\\&", "")
    s = s.replace("\\(dq", '"').replace("\\e", "\\")
    s = re.sub(r"\\\(..|\\\[[^]]*\]", " ", s)        # other special characters
    s = re.sub(r"\\c$", "", s)
    return s


def text_of(line):
    """The text a roff line puts on the page (macro arguments joined as the macro does)."""
    if line.startswith((".", "'")):
        name, _, rest = line[1:].partition(" ")
        args = roff_args(rest)
        if name in ALTERNATING:
            return unescape("".join(args))
        if name in FONT_MACROS or name in ("SY", "IP", "OP"):
            return unescape(" ".join(args))
        return ""
    return unescape(line)


class Page:
    """Options a man page documents: OPTIONS tags, COMMANDS tags per command, SYNOPSIS."""

    def __init__(self, path, prog):
        self.path = path
        self.prog = prog
        self.tagged = {}      # command ("" for the program itself) -> {option: takes a value}
        self.synopsis = {}    # command -> options in its .SY block
        self.mentioned = {}   # command -> options shown in its COMMANDS tag ("[--json]")
        section, command, depth, want_tag = None, None, 0, False
        sy = None
        with open(path) as f:
            lines = [l.rstrip("\n") for l in f]
        for line in lines:
            if line.startswith(('.\\"', "'\\\"")):
                continue
            if line.startswith(".SH"):
                section = unescape(" ".join(roff_args(line[3:]))).strip()
                command, depth, want_tag, sy = None, 0, False, None
                continue
            if section == "SYNOPSIS":
                if line.startswith(".SY"):
                    words = text_of(line).split()
                    if words and words[0] == prog:
                        sy = self._command(words[1:])
                        self.synopsis.setdefault(sy, set())
                    else:
                        sy = None  # e.g. "mount -t fuse.snapcowfs": not this program's options
                elif line.startswith(".YS"):
                    sy = None
                elif sy is not None:
                    self.synopsis[sy] |= set(OPT.findall(text_of(line)))
                continue
            if section not in ("OPTIONS", "COMMANDS"):
                continue
            if line.startswith(".RS"):
                depth += 1
                continue
            if line.startswith(".RE"):
                depth = max(0, depth - 1)
                continue
            tag = None
            if want_tag:
                tag, want_tag = text_of(line), False
            elif line.startswith(".TP"):
                want_tag = True
                continue
            elif line.startswith(".IP"):
                args = roff_args(line[3:])
                tag = unescape(args[0]) if args else None
            if tag is None:
                continue
            if section == "OPTIONS":
                self._tag("", tag)
            elif depth == 0:
                command = self._command(tag.split())
                self.tagged.setdefault(command, {})
                self.mentioned.setdefault(command, set()).update(OPT.findall(tag))
            elif command is not None and depth == 1:
                self._tag(command, tag)

    @staticmethod
    def _command(words):
        cmd = []
        for w in words:
            if not COMMAND_WORD.match(w):
                break
            cmd.append(w)
        return " ".join(cmd)

    def _tag(self, command, tag):
        found = self.tagged.setdefault(command, {})
        # "-o opt[,opt...], --option opt[,opt...]": alternatives split at ", -"; a word after
        # the option is its value.
        for alt in re.split(r",\s+(?=-)", tag.strip()):
            words = alt.split()
            if words and OPT.fullmatch(words[0]):
                found[words[0]] = len(words) > 1


def check_program(prog_path, page_path, problems):
    prog = os.path.basename(prog_path)
    page = Page(page_path, prog)
    name = os.path.basename(page_path)
    top = Help([prog_path])
    if not top.table:
        problems.add(name, f"found no option table in '{prog} --help' (parser out of date?)")
    commands = {cmd for cmd, _ in top.usage}
    if not commands:
        problems.add(name, f"found no usage line in '{prog} --help' (parser out of date?)")
    helps = {"": top}
    for cmd in sorted(commands - {""}):
        helps[cmd] = Help([prog_path] + cmd.split())
    global_opts = top.table

    documented_cmds = set(page.tagged) - {""}
    for cmd in sorted(commands - {""} - documented_cmds):
        problems.add(name, f"command '{cmd}' is in --help but has no entry in COMMANDS")
    for cmd in sorted(documented_cmds - commands):
        problems.add(name, f"COMMANDS documents '{cmd}', which no --help usage line shows")
    for cmd in sorted((commands | {""}) - set(page.synopsis)):
        problems.add(name, f"SYNOPSIS has no .SY line for '{' '.join([prog, cmd]).strip()}'")
    for cmd in sorted(set(page.synopsis) - commands - {""}):
        problems.add(name, f"SYNOPSIS shows '{prog} {cmd}', which no --help usage line shows")

    for cmd, help_ in sorted(helps.items()):
        label = " ".join([prog, cmd]).strip()
        usage = set().union(*[o for c, o in top.usage if c == cmd])
        printed = (help_.table if cmd else global_opts) | usage
        tagged = set(page.tagged.get(cmd, {}))
        if cmd:
            own = printed - global_opts      # -h/--help of a command is documented in OPTIONS
            for o in sorted(own - tagged):
                problems.add(name, f"{o} is printed by '{label} --help' but not documented "
                                   f"under '{cmd}' in COMMANDS")
            for o in sorted(printed & global_opts - set(page.tagged.get("", {}))):
                problems.add(name, f"{o} is printed by '{label} --help' but not in OPTIONS")
        else:
            for o in sorted(printed - tagged):
                problems.add(name, f"{o} is printed by '{label} --help' but not in OPTIONS")
        for o in sorted(tagged - printed):
            where = f"under '{cmd}' in COMMANDS" if cmd else "in OPTIONS"
            problems.add(name, f"{o} is documented {where} but '{label} --help' does not print it")
        for o in sorted(page.mentioned.get(cmd, set()) - printed):
            problems.add(name, f"{o} is in the COMMANDS entry of '{cmd}' but '{label} --help' "
                               f"does not print it")
        syn = page.synopsis.get(cmd, set())
        for o in sorted(syn - printed):
            problems.add(name, f"{o} is in the SYNOPSIS of '{label}' but '{label} --help' "
                               f"does not print it")
        for o in sorted((usage | (help_.table - global_opts if cmd else set())) - syn):
            problems.add(name, f"{o} is printed by '{label} --help' but not in its SYNOPSIS")
        if cmd:
            for c, opts in top.usage:
                for o in sorted(opts - help_.table) if c == cmd else ():
                    problems.add(name, f"'{prog} --help' shows {o} for '{cmd}', "
                                       f"which '{label} --help' does not know")

        # Accepted, not just printed: the program parses each documented option.
        argv = [prog_path] + cmd.split()
        for o, takes_value in sorted(page.tagged.get(cmd, {}).items()):
            tail = [] if o in ("-h", "--help") else ["--help"]  # boost: one --help only
            r = run(argv + [o] + (["1"] if takes_value else []) + tail)
            if r.returncode != 0:
                problems.add(name, f"'{label} {o}' is documented but refused: "
                                   f"{r.stderr.strip().splitlines()[:1]}")
        r = run(argv + ["--no-such-option-doccheck", "--help"])
        if r.returncode == 0:
            problems.add(name, f"'{label}' accepts an unknown option: the acceptance check "
                               f"cannot tell")
    return page


def options(fs, ctl, mandir):
    problems = Problems()
    for prog_path in (fs, ctl):
        check_program(prog_path, os.path.join(mandir, os.path.basename(prog_path) + ".8"),
                      problems)
    return problems


def main(argv):
    if len(argv) == 2 and argv[0] == "lint":
        problems, what = lint(argv[1]), "lint"
    elif len(argv) == 4 and argv[0] == "options":
        problems, what = options(*argv[1:]), "options"
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print(p, file=sys.stderr)
    print(f"doccheck {what}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
