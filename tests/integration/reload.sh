#!/bin/bash
# reload.sh - SIGHUP reloads the configuration: a changed limit applies to
# the next messages, a broken file is refused with file:line and the running
# configuration stays, reloads under load fail no connection, bursts of 200
# SIGHUPs while mail flows (at the process started, or at the milter process
# itself) fails no session, stops nothing and leaves the new file loaded,
# SIGHUPs in quick succession (during a long reload) are reloads and never a
# stop, SIGTERM still stops the daemon cleanly, and SIGHUPs sent while
# postmeter reads its file at start-up are a reload once it serves.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE" taskset
pm_redis_start
CONF=$PM_TMP/pm.conf
PM_FAIL_LOGS=$PM_TMP/pm.log

# Print the pid of the milter process, the child of postmeter's process $1.
milter_of() {
    local c=
    read -r c _ <"/proc/$1/task/$1/children" 2>/dev/null
    echo "$c"
}

# Write the config with an hourly limit of $1.
write_conf() {
    PM_MILTER_SOCKET="unix:$PM_TMP/pm.sock" pm_write_conf "$CONF" <<EOF
plans: { default: { messages_per_hour = $1; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; };
         bulk: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                 warmup = []; }; };
assign = ( { sender = "bulk@example.com"; plan = "bulk"; } );
rules = ( );
EOF
}

# Send $2 messages as $1; print how many were accepted.
accepted() {
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m "$2" -f "$1" -r x@example.org 2>&1 |
        pm_summary - accepted
}

# Send SIGHUP and wait (bounded) for the log line matching $1.
hup() {
    local before
    before=$(grep -c "$1" "$PM_TMP/pm.log")
    kill -HUP "$PID"
    for _ in $(seq 1 100); do
        [ "$(grep -c "$1" "$PM_TMP/pm.log")" -gt "$before" ] && return 0
        sleep 0.05
    done
    pm_fail "no '$1' after SIGHUP: $(tail -n 5 "$PM_TMP/pm.log")"
}

write_conf 3
"$PM" -c "$CONF" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill -9 \$(milter_of $PID) $PID"
pm_wait_file "$PM_TMP/pm.sock" || pm_fail "postmeter did not start"

pm_assert_eq 3 "$(accepted alice@example.com 5)" "limit 3"
write_conf 6
hup "reloaded $CONF"
pm_assert_eq 3 "$(accepted alice@example.com 5)" "limit 6 after the reload"

# A broken file: refused with file:line, the running configuration stays.
printf 'plans: { default: { messages_per_hour = 100; }; };\nfrobnicate = 1;\n' >"$CONF"
hup "reload failed"
grep -q "reload failed, keeping the running configuration: $CONF:2: unknown key \"frobnicate\"" \
    "$PM_TMP/pm.log" || pm_fail "the reload error does not quote file:line"
kill -0 "$PID" || pm_fail "postmeter died on a bad reload"
pm_assert_eq 0 "$(accepted alice@example.com 2)" "still limit 6 after a bad reload"

# Reloads under load: 10 sessions x 30 messages while the file is reloaded 5 times.
write_conf 6
"$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 10 -m 30 -f bulk@example.com -r x@example.org \
    >"$PM_TMP/load.out" 2>&1 &
LOAD=$!
for _ in 1 2 3 4 5; do
    hup "reloaded $CONF"
    sleep 0.1
done
wait "$LOAD" || pm_fail "the load driver failed: $(cat "$PM_TMP/load.out")"
pm_assert_eq "messages=300 accepted=300 tempfail=0 reject=0" \
    "$(head -n 1 "$PM_TMP/load.out" | cut -d' ' -f1-4)" "messages under reloads"
grep -q "errors=0" "$PM_TMP/load.out" || pm_fail "protocol errors under reloads"

# Mail that flows in $2 rounds of 10 new sessions x 8 messages (bulk: no
# limit); round i's summary goes to $PM_TMP/$1.i.out.
flow() {
    local i
    for i in $(seq 1 "$2"); do
        "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 10 -m 8 -f bulk@example.com -r x@example.org \
            >"$PM_TMP/$1.$i.out" 2>&1 || return 1
    done
}

# Check that each of the $2 rounds of flow $1 had its 80 messages accepted, without an error.
flowed() {
    local i
    for i in $(seq 1 "$2"); do
        pm_assert_eq "messages=80 accepted=80 tempfail=0 reject=0 discard=0 quarantined=0 tagged=0 errors=0" \
            "$(head -n 1 "$PM_TMP/$1.$i.out" | cut -d' ' -f1-8)" "round $i of $1"
    done
}

# Wait (bounded) until bulk@example.com's mail is being decided again.
wait_flowing() {
    local n
    n=$(grep -c " sender=bulk@example.com " "$PM_TMP/pm.log")
    for _ in $(seq 1 100); do
        [ "$(grep -c " sender=bulk@example.com " "$PM_TMP/pm.log")" -gt "$n" ] && return 0
        sleep 0.05
    done
    pm_fail "no mail flows"
}

# Send pid $1 six bursts of 200 SIGHUPs, 0.2 s apart, each from one CPU in
# turn (the race needs the sender on another CPU than the thread that takes
# the signal, which the scheduler does not always arrange by itself).
burst() {
    local b cpus pin
    cpus=$(nproc 2>/dev/null || echo 1)
    for b in 1 2 3 4 5 6; do
        pin=(taskset -c $((b % cpus)))
        "${pin[@]}" true 2>/dev/null || pin=() # a CPU this machine does not lend us
        "${pin[@]}" bash -c 'for _ in $(seq 1 200); do kill -HUP "$1" || exit; done' \
            burst "$1" 2>/dev/null
        sleep 0.2
    done
}

# Bursts of 200 SIGHUPs while mail flows. A SIGHUP that reached libmilter's
# own signal thread would stop the milter, with exit status 0. Every one must
# be a reload (several folded into one), no session may fail, the milter
# process (the child of the process started, which takes the signals) must
# still be the same afterwards, and the limit of the file written before the
# bursts must apply: carol@example.com gets 9 of 12 messages through.
MILTER=$(milter_of "$PID")
[ -n "$MILTER" ] || pm_fail "no milter process under $PID"
write_conf 9
before=$(grep -c "reloaded $CONF" "$PM_TMP/pm.log")
flow burst 8 &
FLOW=$!
wait_flowing
burst "$PID"
wait "$FLOW" || pm_fail "a session failed during the bursts: $(cat "$PM_TMP"/burst.*.out)"
flowed burst 8
for _ in $(seq 1 100); do
    [ "$(grep -c "reloaded $CONF" "$PM_TMP/pm.log")" -gt "$before" ] && break
    sleep 0.05
done
[ "$(grep -c "reloaded $CONF" "$PM_TMP/pm.log")" -gt "$before" ] || pm_fail "no reload after the bursts"
pm_assert_eq 9 "$(accepted carol@example.com 12)" "limit 9 after the bursts of SIGHUPs"

# The same bursts sent to the milter process itself (`pkill -HUP postmeter`
# reaches both processes): it ignores SIGHUP, so they change nothing.
flow direct 8 &
FLOW=$!
wait_flowing
burst "$MILTER"
wait "$FLOW" || pm_fail "a session failed during the bursts at the milter process: $(cat "$PM_TMP"/direct.*.out)"
flowed direct 8

# SIGHUPs in quick succession, each arriving while the last reload runs (a
# file with 20000 assignment rules takes a while to read): every one is a
# reload, none stops the daemon (libmilter stops on a SIGHUP it receives).
write_conf 6
sed -i '/^assign = ( { sender = "bulk@example.com"; plan = "bulk"; } );$/d' "$CONF"
{
    echo "assign = ("
    for i in $(seq 1 20000); do
        echo "  { sender = \"user$i@big.example\"; plan = \"bulk\"; },"
    done
    echo '  { sender = "bulk@example.com"; plan = "bulk"; } );'
} >>"$CONF"
"$PM" -n -c "$CONF" >"$PM_TMP/check.out" 2>&1 || pm_fail "the big file is refused: $(cat "$PM_TMP/check.out")"
before=$(grep -c "reloaded $CONF" "$PM_TMP/pm.log")
for _ in 1 2 3 4 5; do
    kill -HUP "$PID"
    sleep 0.01
done
for _ in $(seq 1 200); do
    [ "$(grep -c "reloaded $CONF" "$PM_TMP/pm.log")" -gt "$before" ] && break
    sleep 0.05
done
sleep 6 # libmilter stops about 5 s after a SIGHUP reaches it (also one of the bursts above)
kill -0 "$PID" 2>/dev/null || pm_fail "postmeter stopped on SIGHUPs in quick succession: $(tail -n 5 "$PM_TMP/pm.log")"
pm_assert_eq "$MILTER" "$(milter_of "$PID")" "the milter process after the SIGHUPs"
grep -q "stopped" "$PM_TMP/pm.log" && pm_fail "postmeter logged a stop: $(tail -n 5 "$PM_TMP/pm.log")"
[ "$(grep -c "reloaded $CONF" "$PM_TMP/pm.log")" -gt "$before" ] || pm_fail "no reload after the SIGHUPs"
pm_assert_eq 2 "$(accepted bulk@example.com 2)" "mail after the SIGHUPs"

# SIGTERM still stops it, with exit status 0 and no socket left.
kill -TERM "$PID"
for _ in $(seq 1 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PID" 2>/dev/null && pm_fail "postmeter did not stop on SIGTERM"
wait "$PID"
pm_assert_eq 0 "$?" "exit status after SIGTERM"
[ -e "$PM_TMP/pm.sock" ] && pm_fail "the socket was left behind"

# SIGHUPs sent while postmeter starts (a reload asked for right after a
# start) wait for it: once it serves, they are a reload, never a kill. The
# file with 60000 rules takes a while to read; the burst comes while the
# file is open.
write_conf 6
sed -i -e '/^assign = /d' -e "s|$PM_TMP/pm.sock|$PM_TMP/pm2.sock|" "$CONF"
{
    echo "assign = ("
    for i in $(seq 1 60000); do
        echo "  { sender = \"user$i@big.example\"; plan = \"bulk\"; },"
    done
    echo '  { sender = "bulk@example.com"; plan = "bulk"; } );'
} >>"$CONF"
"$PM" -c "$CONF" -f 2>"$PM_TMP/pm2.log" &
PID=$!
pm_on_exit "kill -9 \$(milter_of $PID) $PID"
for _ in $(seq 1 500); do
    ls -l "/proc/$PID/fd" 2>/dev/null | grep -q " $CONF\$" && break
    sleep 0.001
done
for _ in $(seq 1 200); do
    kill -HUP "$PID" 2>/dev/null || break
done
PM_FAIL_LOGS=$PM_TMP/pm2.log
pm_wait_file "$PM_TMP/pm2.sock" 200 || pm_fail "postmeter did not start with SIGHUPs at start-up"
pm_wait_grep "reloaded $CONF" "$PM_TMP/pm2.log" || pm_fail "no reload after the SIGHUPs of the start"
kill -0 "$PID" 2>/dev/null || pm_fail "postmeter died after the SIGHUPs of the start"
pm_stop_clean "$PID" "postmeter started under SIGHUPs"
echo "PASS: reload"
