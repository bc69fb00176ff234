"""Every deliberate difference from ldirectord's config reading, as data.

The man page lists these, and the differential test against ldirectord names
them. `diagnostic` is the code we emit where the difference shows (None when we
accept silently); `ldirectord_exit` is what `ldirectord CONFIG status` does with
`example`: 2 = config error, 0/3 = accepted. `ours` is "error", "warning" or "ok".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Difference:
    id: str
    diagnostic: str | None
    ldirectord: str
    ours: str
    verdict: str  # what --check does: "ok", "warning" or "error"
    ldirectord_rejects: bool  # does ldirectord report a config error?
    example: str  # a minimal file showing it (a virtual section is appended when needed)
    mode: int = 0o644  # the file mode the example needs (D22: world-writable)


V = "virtual=192.0.2.10:80\n    real=192.0.2.11:80 gate\n"

DIFFERENCES: tuple[Difference, ...] = (
    Difference("D01", "W101", "CRLF line ends make yes/no values invalid.",
        "CR before the line end is ignored; a warning.", "warning", True,
        "autoreload = no\r\n" + V),
    Difference("D02", "W102", "Trailing whitespace after yes/no (or a netmask) is an error.",
        "Accepted with a warning.", "warning", True, "autoreload = no \n" + V),
    Difference("D03", "W103", "A trailing comment on a global line stays in the value "
        "(an error for yes/no, part of the text for strings).",
        "` #...` after whitespace is a comment everywhere; a warning.", "warning", True,
        "autoreload = no # reload by hand\n" + V),
    Difference("D04", "W104", "A blank line ends a virtual section; the indented lines after "
        "it are 'Unknown command' errors.",
        "The section continues after blank lines when the next line is indented; a warning.",
        "warning", True, V + "\n    scheduler = wlc\n"),
    Difference("D05", "W105", "A section line indented by fewer than 4 spaces ends the section "
        "and is then an unknown global command.",
        "Any indentation continues the section; a warning.", "warning", True,
        V + "  scheduler = wlc\n"),
    Difference("D06", "W106", "An indented global line (before any virtual) is an unknown "
        "command.", "Accepted as the global directive; a warning.", "warning", True,
        "  autoreload = no\n" + V),
    Difference("D07", "W107", "request, receive, login, passwd, database, secret, load, logfile "
        "and callback need double quotes; without them the line is an unknown command.",
        "Bare text is accepted; a warning.", "warning", True,
        V + "    request = index.html\n    receive = ok\n"),
    Difference("D08", "W111", "Any '#' in a virtual section line starts a comment, even inside "
        "quotes, so `receive = \"a#b\"` loses its closing quote and is rejected.",
        "'#' inside double quotes is part of the value; a warning.", "warning", True,
        V + '    receive = "a#b"\n'),
    Difference("D09", "E212", "Any digit in checktype selects combined mode with that number "
        "(checktype = negotiate2 means 2).", "Only a plain number selects combined mode; "
        "other mixes are an error.", "error", False, V + "    checktype = negotiate2\n"),
    Difference("D10", "E201", "A number is the first digit run anywhere in the value "
        "(checkinterval = x5 is 5, -5 is 5).", "Text before the number, or a sign, is an "
        "error; text after it is ignored with W201.", "error", False,
        "checkinterval = x5\n" + V),
    Difference("D11", None, "checkinterval, checktimeout and negotiatetimeout are whole "
        "seconds (1.5 is read as 1).", "Fractions are honoured (1.5 is 1.5 s).", "ok", False,
        "checkinterval = 1.5\nnegotiatetimeout = 1\n" + V),
    Difference("D12", None, "A per-virtual checkinterval is ignored (with a warning) unless "
        "fork = yes.", "It is always honoured.", "ok", False,
        V + "    checkinterval = 3\n    negotiatetimeout = 2\n"),
    Difference("D13", None, "Port 3389 gives service none, so a negotiate check never checks "
        "anything.", "Port 3389 gives service rdp.", "ok", False,
        "virtual=192.0.2.10:3389\n    real=192.0.2.11:3389 gate\n"),
    Difference("D14", None, "The ftp login/passwd and sip login defaults apply only when "
        "service= is written (not when it comes from the port).",
        "They apply whichever way the service was chosen.", "ok", False,
        "virtual=192.0.2.10:21\n    real=192.0.2.11:21 gate\n"),
    Difference("D15", None, "An a->b range is walked comparing addresses as strings, which "
        "goes wrong across a change in digit count.", "Ranges are walked as integers.", "ok",
        False, "virtual=192.0.2.10:80\n    real=192.0.2.8->192.0.2.12:80 gate\n"),
    Difference("D16", "E216", "The first run of lowercase letters is the scheduler: any word "
        "is accepted and ipvsadm fails later (and scheduler = Wlc means lc).",
        "Unknown schedulers are an error with a suggestion.", "error", False,
        V + "    scheduler = wlcc\n"),
    Difference("D17", "E217", "schedflags is any non-space text.", "Only known flags "
        "(sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3).", "error", False,
        V + "    schedflags = sh-fallbak\n"),
    Difference("D18", "E302", "The same real server twice in one virtual is accepted.",
        "An error.", "error", False, V + "    real=192.0.2.11:80 gate\n"),
    Difference("D19", "E202", "Weights and thresholds are not range-checked.",
        "Weight 0..65535, thresholds 0..4294967295.", "error", False,
        "virtual=192.0.2.10:80\n    real=192.0.2.11:80 gate 70000\n"),
    Difference("D20", "E303", "l: above u: (or l: without u:) is accepted; the kernel then "
        "refuses the real (ERANGE) at every ipvsadm -a.", "An error.", "error", False,
        "virtual=192.0.2.10:80\n    real=192.0.2.11:80 gate 1 l:10 u:5\n"),
    Difference("D21", "E304", "checktype = external with a missing command fails at every "
        "check.", "A missing, relative or non-executable checkcommand is an error.", "error",
        False, V + "    checktype = external\n    checkcommand = /nonexistent/check\n"),
    Difference("D22", "E305", "A world-writable configuration is read.",
        "An error: root runs the commands it names.", "error", False, V, mode=0o666),
    Difference("D23", None, "New directives (risecount, rdp*, maxprobes, maxexternalchecks, "
        "resyncinterval) are unknown commands.", "Accepted.", "ok", True,
        "risecount = 2\n" + V),
    Difference("D24", None, "Unquoted values keep quotes for global fallbackcommand and "
        "execute (the shell later removes them).", "Quotes are removed when parsing.", "ok",
        False, 'fallbackcommand = "/bin/true"\n' + V),
    Difference("D25", None, "logfile and monitorfile are opened (created) at parse time; an "
        "unwritable one is an error.", "--check does not create or open them.", "ok", True,
        'logfile = "/nonexistent/dir/ld.log"\n' + V),
    Difference("D26", "E202", "Virtual port 0 is accepted.", "Port 0 needs persistent= (the "
        "IPVS all-ports service); otherwise an error.", "error", False,
        "virtual=192.0.2.10:0\n    real=192.0.2.11 gate\n"),
    Difference("D27", "E218", "An empty quoted logfile or callback is accepted (and fails "
        "later).", "An error.", "error", False, 'callback = ""\n' + V),
    Difference("D28", None, "service = rdp is not a known service.", "rdp is a service "
        "(an X.224/TLS check).", "ok", True,
        "virtual=192.0.2.10:3389\n    real=192.0.2.11:3389 gate\n    service = rdp\n"),
    Difference("D29", "E202", "persistent = 0 is accepted (ipvsadm then refuses it).",
        "persistent must be 1 or more.", "error", False, V + "    persistent = 0\n"),
    Difference("D30", "E204", "virtual = 192.0.2.10 (no port) is read as fwmark 192: the "
        "first digit run is taken.", "A fwmark is a number alone; anything else needs a "
        "port.", "error", False, "virtual = 192.0.2.10\n    real = 192.0.2.11 gate\n"),
    Difference("D31", "E207", "Text before a readable address in real= is skipped "
        "(real=192.0.2.2::5060 reads host 5060, as in ldirectord's own sample).",
        "The line must start with the address.", "error", False,
        "virtual=192.0.2.10:5060\n    real=192.0.2.2::5060 gate\n"),
    Difference("D32", None, "checktimeout = 0.5 reads as 0, which is an error.",
        "Half a second.", "ok", True, "checktimeout = 0.5\ncheckinterval = 1\n" + V),
    Difference("D33", "W112", "A UTF-8 byte order mark makes the first line an unknown "
        "command.", "The mark is skipped; a warning.", "warning", True,
        "\ufeffautoreload = no\n" + V),
    Difference("D34", "E207", "real= looks for the weight, the request/receive pair and the "
        "thresholds anywhere after the method, skipping other words (gate junk 5 is weight 5).",
        "They must follow in order; anything else is an error.", "error", False,
        "virtual=192.0.2.10:80\n    real=192.0.2.11:80 gate junk 5\n"),
    Difference("D35", "E211", "An IPv4 netmask is any four dotted numbers (255.0.255.0, "
        "999.1.1.1).", "It must be a valid, contiguous mask.", "error", False,
        V + "    persistent = 60\n    netmask = 255.0.255.0\n"),
    Difference("D36", None, "A real server without a port is checked on the service's "
        "well-known port, even when the virtual's port differs (192.0.2.10:8080 with service "
        "http checks port 80).", "It is checked on the virtual's port, where IPVS sends the "
        "traffic; the service's port is used only for fwmark services.", "ok", False,
        "virtual=192.0.2.10:8080\n    real=192.0.2.11 gate\n    service=http\n"),
    Difference("D37", "W113", "real= with u:N before l:N: the l: match swallows the rest, so "
        "the upper threshold is silently dropped.", "Both thresholds are read as written; a "
        "warning.", "warning", False,
        "virtual=192.0.2.10:80\n    real=192.0.2.11:80 masq 1 u:100 l:10\n"),
)  # fmt: skip

BY_ID = {d.id: d for d in DIFFERENCES}
