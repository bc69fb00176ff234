"""The directives table: the one source of truth for names, scopes, kinds, defaults, docs.

The parser, `--check`, the model's field names and the man page are all built from
`DIRECTIVES`. A default lives here and nowhere else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ldirectorpy.config import values as k


class Scope(enum.Enum):
    GLOBAL = "global"
    VIRTUAL = "virtual"
    BOTH = "global, virtual"  # the virtual's value overrides the global one

    @property
    def in_global(self) -> bool:
        return self is not Scope.VIRTUAL

    @property
    def in_virtual(self) -> bool:
        return self is not Scope.GLOBAL


class Quotes(enum.Enum):
    OPTIONAL = "optional"  # "..." stripped when present
    REQUIRED = "required"  # ldirectord needs them; we accept bare text with W107
    VERBATIM = "verbatim"  # ldirectord keeps them in the value; so do we (W204)


@dataclass(frozen=True, slots=True)
class Directive:
    name: str
    scope: Scope
    kind: k.Kind
    default: object
    doc: str
    quotes: Quotes = Quotes.OPTIONAL
    deprecated: str | None = None  # a warning text when used
    new: bool = False  # an ldirectorpy extension, unknown to ldirectord
    repeat: bool = False  # may be given more than once; values collect in a tuple


G, V, B = Scope.GLOBAL, Scope.VIRTUAL, Scope.BOTH
REQ, VERB = Quotes.REQUIRED, Quotes.VERBATIM
_FWD = "gate|masq|ipip"

SERVICES = (
    "dns", "ftp", "http", "https", "http_proxy", "imap", "imaps", "ldap", "ldaps", "mysql",
    "nntp", "none", "oracle", "pgsql", "pop", "pops", "radius", "rdp", "simpletcp", "sip",
    "smtp", "submission",
)  # fmt: skip
RDP_PROTOCOLS = ("rdp", "ssl", "hybrid", "rdstls", "hybrid_ex")

DIRECTIVES: tuple[Directive, ...] = (
    # -- virtual services and their servers (handled specially by the parser) --
    Directive("virtual", V, k.Raw("IPv4:port, host:port or a fwmark"), None,
        "Opens a virtual service section: `IPv4:port`, `hostname:port` or a firewall mark (an "
        "integer > 0). The port may be a service name from /etc/services. The lines that "
        "follow, indented, belong to this virtual service."),
    Directive("virtual6", V, k.Raw("[IPv6]:port, host:port or a fwmark"), None,
        "Opens an IPv6 virtual service section: `[IPv6]:port`, `hostname:port` or a fwmark."),
    Directive("real", V, k.Raw(f"HOST[->HOST2][:PORT] {_FWD} [W] [\"REQ\", \"RECV\"] [l:N] [u:N]"),
        None,
        "A real server: `HOST[->HOST2][:PORT] gate|masq|ipip [WEIGHT] [\"REQUEST\", \"RECEIVE\"] "
        "[l:LOWER] [u:UPPER]`. `a->b` is an inclusive IPv4 range. The port defaults to 0 (use "
        "the virtual's). The weight defaults to 1 and may be 0..65535. A per-real request and "
        "receive override the virtual's. `l:`/`u:` are the IPVS connection thresholds.",
        repeat=True),
    Directive("real6", V, k.Raw(f"[IPv6][:PORT] {_FWD} [W] [\"REQ\", \"RECV\"] [l:N] [u:N]"), None,
        "An IPv6 real server, in a `virtual6` section; same syntax as `real` with a "
        "bracketed address. Ranges are not supported.", repeat=True),
    # -- timing --
    Directive("checkinterval", B, k.Seconds(), 10.0,
        "Seconds between two checks of the same real server. Honoured per virtual "
        "always (ldirectord: only with fork = yes). Checks are spread over the "
        "interval and start on a 50 ms grid (never early). The daemon handles the "
        "probes' network events at once, but from the second wake-up within one "
        "50 ms step it waits for the next step and handles everything together, "
        "and while every step finds answers waiting it keeps to the grid, so its "
        "wake-ups do not grow with the number of real servers; a verdict "
        "may then come up to 50 ms later per exchange. Deadlines are kept exactly."),
    Directive("checktimeout", B, k.Seconds(), None,
        "Timeout of connect, ping and external checks. When unset: the virtual's "
        "negotiatetimeout, the global checktimeout, the global negotiatetimeout, then 5."),
    Directive("negotiatetimeout", B, k.Seconds(), None,
        "Timeout of negotiate checks. When unset: the virtual's checktimeout, the global "
        "negotiatetimeout, the global checktimeout, then 30."),
    Directive("connecttimeout", B, k.Removed("negotiatetimeout"), None,
        "Retired by ldirectord in favour of negotiatetimeout; an error."),
    Directive("timeout", G, k.Removed("checktimeout and negotiatetimeout"), None,
        "Retired by ldirectord in favour of checktimeout and negotiatetimeout; an error."),
    Directive("checkcount", B, k.Int(1), 1,
        "Deprecated. Number of ICMP attempts of one ping check.",
        deprecated="checkcount is deprecated; see failurecount"),
    Directive("failurecount", B, k.Int(1), 1,
        "Consecutive failed checks before an up real server is taken down."),
    Directive("risecount", B, k.Int(1), 1,
        "Consecutive successful checks before a down real server is brought back.", new=True),
    # -- checks --
    Directive("checktype", V, k.CheckType(), "negotiate",
        "connect, negotiate, ping, external, external-perl, on (always up), off (never "
        "change), or a number N: one negotiate check, then N connect checks, repeated."),
    Directive("service", V, k.Choice(SERVICES), None,
        "The protocol a negotiate check speaks. Defaults from the virtual port (21 ftp, 25 "
        "smtp, 53 dns, 80 http, 110 pop, 119 nntp, 143 imap, 389 ldap, 443 https, 587 "
        "submission, 636 ldaps, 993 imaps, 995 pops, 1521 oracle, 1812 radius, 3128 "
        "http_proxy, 3306 mysql, 3389 rdp, 5060 sip, 5432 pgsql, otherwise none; fwmark: "
        "none)."),
    Directive("checkcommand", V, k.Text(what="a program path"), "/bin/true",
        "The program of external checks, run as `checkcommand VIP VPORT RIP RPORT`; exit 0 "
        "means up. It is executed directly, without a shell, so it cannot carry arguments."),
    Directive("checkport", V, k.Int(1, 65535), None,
        "Port to check instead of the real server's port."),
    Directive("request", V, k.Text(what="\"text\""), "/",
        "What to ask for: a URL path for http, the base DN for ldap, the query name for "
        "dns, the SQL query, the payload of simpletcp. A leading / is added.", quotes=REQ),
    Directive("receive", V, k.Text(what="\"regex\""), "",
        "A regular expression the answer must match.", quotes=REQ),
    Directive("httpmethod", V, k.Choice(("GET", "HEAD"), upper=True), "GET",
        "HTTP method of http/https checks (case-insensitive)."),
    Directive("virtualhost", V, k.Text(what="a host name"), None,
        "HTTP Host: header for http checks; defaults to the real server's address."),
    Directive("login", V, k.Text(what="\"user\""), "",
        "User name of ftp, imap, pop, ldap (bind DN), SQL, radius and sip checks. With "
        "`service = ftp` it defaults to anonymous.", quotes=REQ),
    Directive("passwd", V, k.Text(what="\"password\""), "",
        "Password matching login.", quotes=REQ),
    Directive("database", V, k.Text(what="\"name\""), "",
        "Database of mysql, pgsql and oracle checks.", quotes=REQ),
    Directive("secret", V, k.Text(what="\"secret\""), "",
        "RADIUS shared secret.", quotes=REQ),
    Directive("load", V, k.Text(what="\"word\""), None,
        "Accepted for compatibility and ignored (ldirectord never used it).", quotes=REQ),
    # -- RDP checks --
    Directive("rdpprotocols", B, k.ChoiceList(RDP_PROTOCOLS), ("ssl", "hybrid"),
        "Security protocols an rdp check requests in its X.224 Connection Request; `rdp` "
        "alone requests standard RDP security.", new=True),
    Directive("rdpcookie", B, k.Text(empty_ok=True, what="text"), "ldirectorpy",
        "The mstshash cookie an rdp check sends; an empty string sends none.", new=True),
    Directive("rdpnegfailure", B, k.Choice(("up", "down")), "up",
        "Whether an RDP_NEG_FAILURE answer counts as up (it proves the stack answers).",
        new=True),
    Directive("rdptls", B, k.YesNo(), True,
        "Complete the TLS handshake when the server selected SSL or HYBRID.", new=True),
    Directive("rdptlsfingerprint", B, k.Fingerprint(), None,
        "SHA-256 of the server certificate an rdp check must see.", new=True),
    Directive("rdptlsexpirywarn", B, k.Int(0), 14,
        "Warn when the server certificate expires within this many days; 0 is off.",
        new=True),
    # -- IPVS service settings --
    Directive("scheduler", V, k.Scheduler(), "wrr", "IPVS scheduler (ipvsadm -s)."),
    Directive("persistent", V, k.Int(1, 2**31 - 1), None,
        "Persistence timeout in seconds (ipvsadm -p)."),
    Directive("netmask", V, k.Raw("a dotted quad, or a prefix length 1..128 for IPv6"), None,
        "Persistence granularity (ipvsadm -M); only used with persistent."),
    Directive("schedflags", V, k.SchedFlags(), None,
        "Scheduler flags (ipvsadm -b), e.g. sh-fallback,sh-port."),
    Directive("protocol", V, k.Choice(("tcp", "udp", "fwm")), None,
        "tcp or udp for an address virtual (udp by default on port 53), fwm for a fwmark."),
    Directive("ops", V, k.YesNo(), False, "One-packet scheduling for UDP (ipvsadm -o)."),
    Directive("quiescent", B, k.YesNo(), False,
        "yes: a failed real server gets weight 0 and keeps its connections; no: it is "
        "removed. The default is no, as in ldirectord's code (its manual says yes)."),
    Directive("readdquiescent", G, k.YesNo(), False,
        "With quiescent, put back at weight 0 a down real server someone removed by hand."),
    Directive("cleanstop", B, k.YesNo(), True,
        "Remove the virtual services from IPVS on stop; no keeps traffic flowing."),
    Directive("fallback", B, k.Raw(f"host[:port] [{_FWD}]"), None,
        "Server added (weight 1) when no real server of the virtual is up."),
    Directive("fallback6", B, k.Raw(f"[IPv6][:port] [{_FWD}]"), None,
        "IPv6 fallback server, for virtual6 services."),
    Directive("fallbackcommand", B, k.Text(what="a command"), None,
        "Run as `command start|stop VIP:VPORT PROTO` when a virtual loses its last real "
        "server or gets its first one back."),
    # -- notification and logging --
    Directive("emailalert", B, k.Emails(), (), "Recipients of state-change e-mails."),
    Directive("emailalertfreq", B, k.Int(0), 0,
        "Seconds between reminder e-mails while a real server stays down; 0 is off."),
    Directive("emailalertstatus", B, k.EmailStatus(), frozenset(k.EMAIL_STATUSES[2:]),
        "Daemon states in which e-mails are sent: all, none, or a list of starting, "
        "running, stopping, reloading."),
    Directive("emailalertfrom", G, k.Text(what="an address"), None,
        "From: header of alert e-mails.", quotes=VERB),
    Directive("smtp", B, k.Host(), None,
        "Send e-mail through this SMTP server (port 25) instead of sendmail."),
    Directive("logfile", G, k.Text(what="\"/path\" or \"facility\""), "/var/log/ldirectord.log",
        "A file (an absolute path) or a syslog facility name such as local0.", quotes=REQ),
    Directive("monitorfile", V, k.Text(what="a path"), None,
        "A file that receives one line per check result."),
    Directive("servicename", V, k.Text(what="text"), None,
        "A name for the virtual service in alert e-mails.", quotes=VERB),
    Directive("comment", V, k.Text(empty_ok=True, what="text"), None,
        "Free text put into alert e-mails.", quotes=VERB),
    Directive("callback", G, k.Text(what="\"/path\""), None,
        "Program run with the configuration path when the file changes.", quotes=REQ),
    # -- the daemon --
    Directive("autoreload", G, k.YesNo(), False, "Reload when the file's content changes."),
    Directive("supervised", G, k.YesNo(), False,
        "Stay in the foreground for a supervisor; no pid file."),
    Directive("fork", G, k.YesNo(), False,
        "Accepted for compatibility; every check already runs concurrently."),
    Directive("maintenancedir", G, k.Text(what="a directory"), None,
        "A file named after a real server here forces it down."),
    Directive("execute", G, k.Text(what="a configuration name"), (),
        "Also start, stop and reload another instance with this configuration.", repeat=True),
    Directive("maxprobes", G, k.Int(1), 256, "Checks in flight at once.", new=True),
    Directive("maxexternalchecks", G, k.Int(1), 16,
        "External check processes running at once.", new=True),
    Directive("resyncinterval", G, k.Seconds(), 30.0,
        "Seconds between full reconciliations of the IPVS table: at least this "
        "often the daemon reads the kernel's table of its virtual services and "
        "repairs what was changed by hand. Passes for a health change in between "
        "write from the table the last clean pass left.", new=True),
)  # fmt: skip

BY_NAME: dict[str, Directive] = {d.name: d for d in DIRECTIVES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
OPENERS = ("virtual", "virtual6")
# Lines of a virtual section that are not plain settings.
STRUCTURAL = frozenset({"virtual", "virtual6", "real", "real6"})

# What the model carries: every settable directive except the structural and retired ones.
SETTINGS = tuple(
    d for d in DIRECTIVES if d.name not in STRUCTURAL and not isinstance(d.kind, k.Removed)
)
GLOBAL_SETTINGS = tuple(d for d in SETTINGS if d.scope.in_global)
VIRTUAL_SETTINGS = tuple(d for d in SETTINGS if d.scope.in_virtual)
