#!/usr/bin/env python3
"""unit_exec.py: a systemd unit's setting as systemd would run it, for tests without PID 1.

  unit_exec.py get UNIT KEY             the value of KEY= in [Service] (exactly one line)
  unit_exec.py exec UNIT KEY PATH       an Exec*= line as argv for the instance whose %f is
                                        PATH: prints its prefix ("-" or ""), then each word,
                                        every item followed by a NUL byte
  unit_exec.py selftest

systemd splits an Exec*= line into words (quotes as in the shell, no expansion) and then
expands specifiers and "$$" in each word. Only what snapcowfs@.service uses is modelled: the
prefix "-", the specifiers %f and %%, and "$$"; anything else (another specifier, $VAR, a
continued line, another prefix) is an error, so a unit that outgrows this model fails its test
instead of being run differently from systemd.
"""

import shlex
import sys


class UnitError(Exception):
    pass


def get(text, key, section="[Service]"):
    cur, values = None, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            raise UnitError(f"continued lines are not modelled: {line}")
        if line.startswith("["):
            cur = line
            continue
        k, sep, v = line.partition("=")
        if sep and cur == section and k.strip() == key:
            values.append(v.strip())
    if len(values) != 1:
        raise UnitError(f"{key}= appears {len(values)} times in {section}, expected once")
    return values[0]


def expand(word, path):
    out, i = [], 0
    while i < len(word):
        c = word[i]
        nxt = word[i + 1] if i + 1 < len(word) else ""
        if c == "%":
            if nxt == "f":
                out.append(path)
            elif nxt == "%":
                out.append("%")
            else:
                raise UnitError(f"specifier %{nxt} is not modelled (word {word!r})")
            i += 2
        elif c == "$":
            if nxt != "$":
                raise UnitError(f"environment substitution is not modelled (word {word!r})")
            out.append("$")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def exec_argv(text, key, path):
    value = get(text, key)
    prefix = ""
    while value and value[0] in "-@:+!":
        prefix += value[0]
        value = value[1:]
    if prefix not in ("", "-"):
        raise UnitError(f"{key}= prefix {prefix!r} is not modelled")
    words = [expand(w, path) for w in shlex.split(value, posix=True)]
    if not words or not words[0].startswith("/"):
        raise UnitError(f"{key}= must start with an absolute path: {value!r}")
    return prefix, words


def selftest():
    unit = """[Unit]
Description=x %f
[Service]
ExecStart=/usr/sbin/snapcowfs -f %f %f
ExecStopPost=-/bin/sh -c 'test -d "$$1" && echo 100%%' sh %f
KillSignal=SIGTERM
"""
    assert get(unit, "KillSignal") == "SIGTERM"
    assert exec_argv(unit, "ExecStart", "/srv/a b") == (
        "", ["/usr/sbin/snapcowfs", "-f", "/srv/a b", "/srv/a b"])
    assert exec_argv(unit, "ExecStopPost", "/srv/v") == (
        "-", ["/bin/sh", "-c", 'test -d "$1" && echo 100%', "sh", "/srv/v"])
    for bad in ("ExecStart=/bin/x %i", "ExecStart=/bin/x $HOME", "ExecStart=@/bin/x y",
                "ExecStart=x %f", "ExecStart=/bin/x\nExecStart=/bin/y", "ExecStart=/bin/x \\"):
        try:
            exec_argv("[Service]\n" + bad + "\n", "ExecStart", "/p")
        except UnitError:
            continue
        raise AssertionError(f"accepted: {bad!r}")
    try:
        get("[Unit]\nKillSignal=SIGTERM\n", "KillSignal")
    except UnitError:
        pass
    else:
        raise AssertionError("found a [Service] key in [Unit]")
    print("unit_exec selftest: ok")


def main(argv):
    try:
        if argv[:1] == ["selftest"]:
            selftest()
            return 0
        if len(argv) == 3 and argv[0] == "get":
            with open(argv[1]) as f:
                print(get(f.read(), argv[2]))
            return 0
        if len(argv) == 4 and argv[0] == "exec":
            with open(argv[1]) as f:
                prefix, words = exec_argv(f.read(), argv[2], argv[3])
            sys.stdout.write("".join(item + "\0" for item in [prefix] + words))
            return 0
    except (OSError, UnitError) as e:
        print(f"unit_exec.py: {e}", file=sys.stderr)
        return 1
    print("usage: unit_exec.py get UNIT KEY | exec UNIT KEY PATH | selftest", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
