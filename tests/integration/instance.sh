#!/bin/bash
# instance.sh - one postmeter per milter socket. A second postmeter on the
# same unix socket (however the path is spelled) refuses to start, with a
# message naming the first one's pid and exit status 1, and leaves the first
# one's socket and pid file alone; a socket that replaced postmeter's own is
# left in place when postmeter stops; once the first one is gone, the second
# starts. The milter runs in a child of the process started: when it stops
# without being asked, that process exits with status 1 (so that systemd
# restarts it); a SIGKILL to that process takes the child with it. The daemons run as nobody, as in production without root
# privileges (libmilter itself unlinks its socket path only then).
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE" python3
pm_redis_start
PM_FAIL_LOGS="$PM_TMP/run/*.log"

# A directory the daemons' user owns, as /var/spool/postfix/postmeter is the
# postmeter user's; as root, run them as nobody.
RUN=$PM_TMP/run
mkdir "$RUN"
AS=()
if [ "$(id -u)" = 0 ]; then
    pm_need setpriv
    chmod 711 "$PM_TMP"
    chown nobody "$RUN"
    AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
SOCK=$RUN/pm.sock

# Print the pid of the milter process, the child of postmeter's process $1.
milter_of() {
    local c=
    read -r c _ <"/proc/$1/task/$1/children" 2>/dev/null
    echo "$c"
}

# Write config $1 for socket $2 (pid file $RUN/pm.pid).
write_conf() {
    PM_MILTER_SOCKET="$2" pm_write_conf "$1" <<EOF
pidfile = "$RUN/pm.pid";
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; }; };
EOF
    chmod 644 "$1"
}

# Start postmeter with config $1, log $RUN/$2.log; sets STARTED to its pid.
start() {
    "${AS[@]}" "$PM" -c "$1" -f 2>"$RUN/$2.log" &
    STARTED=$!
    pm_on_exit "kill -9 \$(milter_of $STARTED) $STARTED"
}

# Send one message through the socket; print pmdrive's summary head.
send_one() {
    "$DRIVE" -S "unix:$SOCK" -c 1 -m 1 -f alice@example.com -r x@example.org 2>&1 |
        head -n 1 | cut -d' ' -f1-2
}

# Wait (bounded, 10 s) until pid $1 (a child of this shell) has exited; set RC to its exit status.
wait_exit() {
    RC=0
    for _ in $(seq 1 200); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$1" 2>/dev/null && pm_fail "pid $1 did not exit"
    wait "$1" || RC=$?
}

# Whether process $1 still runs (an exited one may wait as a zombie until init reaps it).
alive() {
    local state
    state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}

# Print device and inode of a path ("-" when it does not exist).
inode() {
    stat -c '%d:%i' "$1" 2>/dev/null || echo -
}

write_conf "$RUN/a.conf" "unix:$SOCK"
write_conf "$RUN/b.conf" "local:$RUN/./pm.sock" # the same socket, spelled otherwise
start "$RUN/a.conf" a
A=$STARTED
pm_wait_file "$SOCK" || pm_fail "postmeter A did not start"
pm_wait_grep "started: version" "$RUN/a.log" || pm_fail "postmeter A did not log its start"
pm_assert_eq "$A" "$(cat "$RUN/pm.pid")" "A's pid file"
pm_assert_eq "messages=1 accepted=1" "$(send_one)" "a message through A"
a_sock=$(inode "$SOCK")

# A second postmeter on the same socket is refused, whichever spelling it uses.
for c in a b; do
    start "$RUN/$c.conf" "second-$c"
    wait_exit "$STARTED"
    pm_assert_eq 1 "$RC" "exit status of a second postmeter ($c.conf)"
    grep -q "another postmeter (pid $A) serves .*pm.sock (it holds .*pm.sock.lock): not starting" \
        "$RUN/second-$c.log" || pm_fail "no refusal naming pid $A: $(cat "$RUN/second-$c.log")"
    grep -q "started" "$RUN/second-$c.log" && pm_fail "the second postmeter says it started"
done
kill -0 "$A" || pm_fail "postmeter A died"
pm_assert_eq "$a_sock" "$(inode "$SOCK")" "A's socket after the refusals"
pm_assert_eq "$A" "$(cat "$RUN/pm.pid")" "the pid file after the refusals"
pm_assert_eq "messages=1 accepted=1" "$(send_one)" "a message through A after the refusals"

# A socket that took the place of A's (someone else's) stays when A stops.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$RUN/other.sock" ||
    pm_fail "cannot bind a socket"
mv "$RUN/other.sock" "$SOCK"
other=$(inode "$SOCK")
kill -TERM "$A"
wait_exit "$A"
pm_assert_eq 0 "$RC" "A's exit status after SIGTERM"
pm_assert_eq "$other" "$(inode "$SOCK")" "the other socket after A stopped"
grep -q "$SOCK is no longer the socket this postmeter bound: left in place" "$RUN/a.log" ||
    pm_fail "A did not say why it left $SOCK"
[ -e "$RUN/pm.pid" ] && pm_fail "A left its pid file"

# A is gone, and its lock with it: B starts on the socket (replacing the
# stale one) and serves.
start "$RUN/b.conf" b
B=$STARTED
pm_wait_grep "started: version" "$RUN/b.log" || pm_fail "postmeter B did not start"
[ "$(inode "$SOCK")" != "$other" ] || pm_fail "B did not replace the stale socket"
pm_assert_eq "messages=1 accepted=1" "$(send_one)" "a message through B"

# B's milter process stopped directly (not through B): B exits with status 1.
MILTER=$(milter_of "$B")
[ -n "$MILTER" ] || pm_fail "no milter process under $B"
kill -TERM "$MILTER"
wait_exit "$B"
pm_assert_eq 1 "$RC" "B's exit status after its milter stopped unasked"
grep -q "the milter process stopped without being asked: exiting with status 1" "$RUN/b.log" ||
    pm_fail "B did not say why it exits with status 1"
[ -e "$SOCK" ] && pm_fail "B's milter left its socket behind"

# SIGKILL to the process started takes its milter process with it at once,
# and the lock: postmeter D starts on the socket right after.
start "$RUN/a.conf" c
C=$STARTED
pm_wait_grep "started: version" "$RUN/c.log" || pm_fail "postmeter C did not start"
MILTER=$(milter_of "$C")
[ -n "$MILTER" ] || pm_fail "no milter process under $C"
kill -KILL "$C"
for _ in $(seq 1 20); do
    alive "$MILTER" || break
    sleep 0.05
done
alive "$MILTER" && pm_fail "C's milter process outlived C"
start "$RUN/a.conf" d
pm_wait_grep "started: version" "$RUN/d.log" || pm_fail "postmeter D did not start after C was killed"
pm_assert_eq "messages=1 accepted=1" "$(send_one)" "a message through D"
echo "PASS: instance"
