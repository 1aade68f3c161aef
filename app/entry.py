"""The `tend` command's entry point: health checks answered without importing the app."""

import sys

from app.heartbeat import check


def main(argv: list[str] | None = None) -> int:
    """The `tend` command: the health checks answered at once, everything else by app.cli
    (whose imports take a second or two of CPU, too much for a check every few seconds)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["healthcheck"] or args == ["worker", "--check"]:
        try:
            return check(args[0])
        except ValueError as exc:  # settings that refuse to start, with their reason
            print(f"tend: {exc}", file=sys.stderr)
            return 2
    from app.cli import main as full_command

    return full_command(args)
