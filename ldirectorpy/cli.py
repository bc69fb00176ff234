"""ldirectorpy: a Linux Virtual Server director daemon, compatible with ldirectord.

usage:
  ldirectorpy [-d|--debug] [--] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status
  ldirectorpy --check [--format text|json] [CONFIG ...]
  ldirectorpy probe rdp|connect|ping|udp HOST[:PORT] [options]
  ldirectorpy probe CONFIG [--json]
  ldirectorpy -h|--help | -v|--version

CONFIG defaults to ldirectord.cf and is looked up as /etc/ha.d/CONFIG,
/etc/ha.d/conf/CONFIG, then CONFIG as given.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ldirectorpy import __version__

EXIT_USAGE = 255  # ldirectord's pod2usage(-1)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "-?"):
        sys.stdout.write(__doc__ or "")
        return 0 if args else EXIT_USAGE
    if args[0] in ("-v", "--version"):
        sys.stdout.write(f"ldirectorpy {__version__}\n")
        return 0
    if "--check" in args:
        from ldirectorpy.commands import check

        args.remove("--check")
        return check.main(args)
    if args[0] == "probe":
        from ldirectorpy.commands import probe

        return probe.main(args[1:])
    from ldirectorpy.commands import lifecycle

    return lifecycle.main(args)
