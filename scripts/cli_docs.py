#!/usr/bin/env python3
"""Regenerates the `--help` blocks of docs/cli.md from the recship command.

Every block between `<!-- BEGIN GENERATED: recship <cmd> --help -->` and
`<!-- END GENERATED -->` becomes that subcommand's `--help` output (run as
`recship`, trailing blank lines removed) in a ```text fence.

Usage: cli_docs.py RECSHIP_BINARY [--check]
  --check   change nothing; exit 1 naming each block that differs.
"""

import pathlib
import re
import subprocess
import sys

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "cli.md"
BLOCK = re.compile(r"(<!-- BEGIN GENERATED: recship (\w+) --help -->\n)(.*?)(<!-- END GENERATED -->)",
                   re.S)


def help_text(binary, command):
    result = subprocess.run(["recship", command, "--help"], executable=binary, check=True,
                            capture_output=True, text=True)
    return result.stdout.rstrip("\n")


def regenerate(text, binary):
    """The document with every block regenerated, and the commands whose block changed."""
    changed = []

    def block(m):
        fresh = f"```text\n{help_text(binary, m.group(2))}\n```\n"
        if m.group(3) != fresh:
            changed.append(m.group(2))
        return m.group(1) + fresh + m.group(4)

    return BLOCK.sub(block, text), changed


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary, check = sys.argv[1], "--check" in sys.argv[2:]
    text = DOC.read_text()
    fresh, changed = regenerate(text, binary)
    if not BLOCK.search(text):
        print(f"{DOC}: no generated block")
        return 1
    if check:
        for command in changed:
            print(f"{DOC}: the block of `recship {command} --help` differs from the command; "
                  f"run scripts/cli_docs.py {binary}")
        return 1 if changed else 0
    DOC.write_text(fresh)
    print(f"{DOC}: regenerated; changed: {', '.join(changed) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
