#!/bin/bash
# badinput.sh - hostile input through the milter protocol, from a raw client:
# headers at the protocol's size limit, 8-bit and NUL bytes in addresses and headers, missing
# macros, a body of NUL bytes, and sessions cut off in the middle of a
# message. postmeter answers every complete message, never crashes, and
# counts nothing twice (aborted messages count nothing). Also checks the
# unix socket's configured group and mode.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
pm_need "$PM" python3
pm_redis_start
PM_MILTER_SOCKET="unix:$PM_TMP/pm.sock" pm_write_conf "$PM_TMP/pm.conf" <<'CONF'
milter: { socket_mode = 0660; socket_group = "nogroup"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; }; };
CONF
# pm_write_conf wrote a milter group of its own first: keep the last one only.
sed -i '0,/^milter: {/{/^milter: {/d}' "$PM_TMP/pm.conf"
sed -i "s|^milter: {|milter: { socket = \"unix:$PM_TMP/pm.sock\";|" "$PM_TMP/pm.conf"
"$PM" -n -c "$PM_TMP/pm.conf" >/dev/null || pm_fail "config: $("$PM" -n -c "$PM_TMP/pm.conf" 2>&1)"
"$PM" -c "$PM_TMP/pm.conf" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill -9 $PID"
pm_wait_file "$PM_TMP/pm.sock" || pm_fail "postmeter did not start: $(cat "$PM_TMP/pm.log")"
pm_assert_eq "nogroup 660" "$(stat -c '%G %a' "$PM_TMP/pm.sock")" "socket group and mode"

python3 - "$PM_TMP/pm.sock" >"$PM_TMP/raw.out" 2>&1 <<'PY' || pm_fail "raw client: $(cat "$PM_TMP/raw.out")"
import socket, struct, sys

path = sys.argv[1]

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    return s

def send(s, cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

def recv(s):
    hdr = b""
    while len(hdr) < 4:
        chunk = s.recv(4 - len(hdr))
        if not chunk:
            raise EOFError("milter closed the connection")
        hdr += chunk
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            raise EOFError("short reply")
        body += chunk
    return body[:1], body[1:]

def negotiate(s):
    send(s, b"O", struct.pack(">III", 6, 0x1FF, 0))
    cmd, data = recv(s)
    assert cmd == b"O", cmd
    return struct.unpack(">III", data[:12])[2]

def final(s):
    """Read replies until a final one (skip modification actions)."""
    while True:
        cmd, data = recv(s)
        if cmd in (b"h", b"i", b"q", b"p", b"m", b"c", b"b"):
            if cmd == b"c":
                return cmd, data
            continue
        return cmd, data

def message(s, sender, rcpt, headers, body, pflags):
    send(s, b"D", b"M" + b"{auth_authen}\0" + b"\0")
    send(s, b"M", sender + b"\0")
    r = final(s)
    if r[0] != b"c":
        return r
    send(s, b"R", rcpt + b"\0")
    r = final(s)
    if r[0] != b"c":
        return r
    for name, value in headers:
        send(s, b"L", name + b"\0" + value + b"\0")
        if not pflags & 0x80:  # SMFIP_NR_HDR
            final(s)
    if not pflags & 0x08:  # SMFIP_NOBODY
        for i in range(0, len(body), 65535):
            send(s, b"B", body[i:i + 65535])
            final(s)
    send(s, b"E")
    return final(s)

answers = []
# 1. 8-bit and NUL bytes in the addresses, a 60 KB header (libmilter takes at
# most 64 KB per command), a NUL body, no macros.
s = conn()
pf = negotiate(s)
send(s, b"C", b"h\xff\xfe\0" + b"4" + struct.pack(">H", 25) + b"127.0.0.1\0")
final(s)
answers.append(message(s, b"<al\x80ice@exa\x00mple.com>", b"<b\xffob@example.org>",
                       [(b"Subject", b"\xff" * 60000), (b"X-\x80", b"v\x00x")],
                       b"\0" * 100000, pf))
# 2. A 5000-byte address and a header name of 10000 bytes.
answers.append(message(s, b"<" + b"a" * 5000 + b"@example.com>", b"<x@example.org>",
                       [(b"N" * 10000, b"v")], b"body\r\n", pf))
# 3. A normal message on the same connection after all that.
answers.append(message(s, b"<carol@example.com>", b"<x@example.org>",
                       [(b"Subject", b"ok")], b"hello\r\n", pf))
send(s, b"Q")
s.close()
# 4. Sessions cut off mid-message (after RCPT, and in the body): 20 of them.
for i in range(20):
    s = conn()
    pf = negotiate(s)
    send(s, b"C", b"h\0" + b"4" + struct.pack(">H", 25) + b"127.0.0.1\0")
    final(s)
    send(s, b"M", b"<dave@example.com>\0")
    final(s)
    send(s, b"R", b"<x@example.org>\0")
    final(s)
    if i % 2:
        send(s, b"L", b"Subject\0half\0")
        send(s, b"B", b"partial body")
    s.close()
for cmd, data in answers:
    print(cmd.decode("latin-1"), data[:80].decode("latin-1", "replace").replace("\0", ""))
PY
# Every complete message got an answer (accept/continue, or a reply code).
pm_assert_eq 3 "$(wc -l <"$PM_TMP/raw.out")" "answers to the hostile messages"
grep -qv '^[acy]' "$PM_TMP/raw.out" && pm_fail "unexpected answers: $(cat "$PM_TMP/raw.out")"
kill -0 "$PID" || pm_fail "postmeter died: $(tail -n 20 "$PM_TMP/pm.log")"
# Nothing was counted for the cut-off sessions; carol's one message counted once.
pm_assert_eq 0 "$(pm_rcli EXISTS "$(pm_key "dave@example.com" w)")" "aborted messages counted"
# The hour's running total (total:lo:hi), not a bucket: the minute may turn.
pm_assert_eq 1 "$(pm_rcli HGET "$(pm_key "carol@example.com" w)" mh60 | cut -d: -f1)" \
    "carol's message counted once"
# It still serves normal mail.
"$top_builddir/tests/tools/pmdrive" -S "unix:$PM_TMP/pm.sock" -c 2 -m 5 -f erin@example.com \
    -r y@example.org >"$PM_TMP/after.out" 2>&1 || pm_fail "normal mail after the abuse: $(cat "$PM_TMP/after.out")"
grep -q '^messages=10 accepted=10 ' "$PM_TMP/after.out" || pm_fail "normal mail: $(cat "$PM_TMP/after.out")"
echo "PASS: badinput"
