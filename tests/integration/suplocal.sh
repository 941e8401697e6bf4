#!/bin/bash
# suplocal.sh - each daemon's copy of the suppression lists, two daemons on
# one Redis (and a third that keeps no copy):
#   (a) both load the copy at start (ready, no entry);
#   (b) postmeterctl suppress add on one server: the stream
#       <prefix>:v2:{@}:supx holds its intent (op chk) then the change (op
#       add, its expiry), the other daemon's copy holds it within a bounded
#       wait and it refuses the recipient at RCPT with 550 5.1.1; suppress del:
#       the copy lets it go, the recipient is accepted;
#   (c) a hard bounce learned through the feedback path on daemon a: daemon
#       b's copy holds it and b refuses the recipient; so with an entry of the
#       layout of earlier versions that suppress migrate moves; a reload of
#       the configuration keeps the copy (the same Redis and prefix). For the
#       add, the del and the bounce, MONITOR shows postmeter's XADD of the
#       intent before the script's write of the entry, the XADD of the change
#       after it, and no XADD by a script;
#   (d) postmeterctl forget --all deletes the stream with the rest: the next
#       write makes it anew, which each follower sees as a gap, and reloads:
#       its copy then holds exactly what Redis holds;
#   (e) Redis restarted (empty): the copies are loaded again (ready, no entry);
#       so after the primary turned replica and back;
#   (f) suppression.local_max = 0: no copy, never ready; a copy the changes it
#       follows fill past local_max is no longer ready and says so once; every
#       daemon stops cleanly on SIGTERM (the follower sees the stop within its
#       XREAD block).
#   (g) the copy in use: 10 messages to a recipient on no list cost 11 meter
#       calls through a daemon with the copy, 20 through one without (MONITOR);
#   (h) a writer whose script fails after its intent (postmeterctl as an ACL
#       user that may not HSET): the stream ends with the intent alone, and a
#       copy that follows it, or is loaded after it, answers "may be" for that
#       address (for an address with no entry), until the next load past the
#       minute of notes a load reads;
#   (i) so, read a page at a time, while the intent is among the latest
#       10,000 notes, and no longer past them.
# tests/tools/supcopy loads and follows a copy as a daemon does and prints
# what pm_suplocal_maybe() answers: after (b), and following a del and an add.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
CTL=$top_builddir/postmeterctl
SUPCOPY=$top_builddir/tests/tools/supcopy
SUPADD=$top_builddir/tests/tools/supadd
pm_need "$PM" "$DRIVE" "$CTL" "$SUPCOPY" "$SUPADD" curl redis-server redis-cli
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
PM_FAIL_LOGS="$PM_TMP/[abcd].log"
SUPX="$(pm_key global supx)"

declare -A MPORT PID
# Start daemon $1 with suppression.local_max $2 and a metrics endpoint, as
# production runs (no test clock: no read of the clock key among the calls (g) counts).
start() {
    MPORT[$1]=$(pm_free_port)
    PM_TEST_CLOCK=false pm_milter_start "$1" <<CONF
local_domains = [ "example.com" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
feedback: { authserv_id = "mx.example.com"; };
suppression: { local_max = $2; };
metrics: { listen = "127.0.0.1:${MPORT[$1]}"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
rules = ( );
CONF
    PID[$1]=$PM_LAST_PID
    pm_wait_port "${MPORT[$1]}" || pm_fail "daemon $1: no metrics endpoint"
}
start a 1000
start b 1000
start c 0

ctl() { "$CTL" -c "$PM_TMP/a.conf" "$@" >"$PM_TMP/ctl.out" 2>&1 || pm_fail "postmeterctl $*: $(cat "$PM_TMP/ctl.out")"; }

# Print the value of gauge $2 of daemon $1.
gauge() {
    curl -s -m 5 "http://127.0.0.1:${MPORT[$1]}/metrics" | awk -v s="$2" '$1 == s { print $2 }'
}

# Wait (bounded: 6 s, room for the follower's backoff after a failure) until
# daemon $1's copy is ready with $2 entries; print the milliseconds it took,
# or fail.
copy_is() {
    local t0 t1
    t0=$(date +%s%3N)
    for _ in $(seq 1 120); do
        [ "$(gauge "$1" postmeter_suppression_local_ready) $(gauge "$1" postmeter_suppression_local_entries)" = "1 $2" ] && {
            t1=$(date +%s%3N)
            echo $((t1 - t0))
            return 0
        }
        sleep 0.05
    done
    pm_fail "daemon $1's copy: ready $(gauge "$1" postmeter_suppression_local_ready), entries $(gauge "$1" postmeter_suppression_local_entries); wanted ready with $2"
}

# Drive one message through daemon $1 from $2 to $3...; pmdrive's output.
drive() {
    local d=$1 from=$2 args=()
    shift 2
    for r; do args+=(-r "$r"); done
    "$DRIVE" -S "unix:$PM_TMP/$d.sock" -c 1 -m 1 -f "$from" -a "$from" "${args[@]}" 2>&1
}

# Check that daemon $1 refuses $2 (550 5.1.1) and accepts erin@example.org beside it.
refuses() {
    local out
    out=$(drive "$1" dave@example.com "$2" erin@example.org)
    grep -q '^messages=1 accepted=1 .* rcpt_refused=1$' <<<"$out" || pm_fail "daemon $1, $2: $out"
    grep -q "^reply 1 550 5.1.1 <$2>" <<<"$out" || pm_fail "daemon $1, reply for $2: $out"
}

# Check that daemon $1 accepts $2.
accepts() {
    local out
    out=$(drive "$1" dave@example.com "$2" erin@example.org)
    grep -q '^messages=1 accepted=1 .* rcpt_refused=0$' <<<"$out" || pm_fail "daemon $1, $2: $out"
}

# --- (a) loaded at start -----------------------------------------------------------------
copy_is a 0 >/dev/null
copy_is b 0 >/dev/null
pm_assert_eq 0 "$(pm_rcli XLEN $SUPX)" "stream length before any entry"

# The stream's notes, one a line: "op c a [x]".
notes() {
    pm_rcli XRANGE $SUPX - + | awk '/^[0-9]+-[0-9]+$/ { if (l != "") print l; l = ""; next }
        { k = $0; getline v; if (k ~ /^(op|c|a|x)$/) l = l (l == "" ? "" : " ") v }
        END { if (l != "") print l }'
}

# MONITOR from here to (c)'s bounce: who writes the stream, and when
redis-cli -h 127.0.0.1 -p "$PM_REDIS_PORT" monitor >"$PM_TMP/monitor.notes" &
NMON_PID=$!
pm_on_exit "kill $NMON_PID 2>/dev/null"
pm_wait_grep '^OK' "$PM_TMP/monitor.notes" || pm_fail "redis-cli monitor did not start"

# Print, in the order MONITOR saw them, the commands of the MONITOR file $1
# that write the stream or entry $2 (an address): "note OP" for a client's
# XADD, "script CMD" for a write a script made to the entry (reads left out),
# "script-xadd" for any XADD a script ran.
order() {
    awk -v a="$2" -v supx="\"$SUPX\"" '
        / \[[0-9]+ lua\] "(xadd|XADD)"/ { print "script-xadd"; next }
        / \[[0-9]+ lua\] / && index($0, ":sup:" a "\"") {
            split($0, f, "\""); c = tolower(f[2])
            if (c ~ /^(hset|expire|pexpire|del)$/) print "script " c; next }
        / "(xadd|XADD)" / && index($0, supx) && index($0, "\"a\" \"" a "\"") {
            for (i = 1; i <= NF; i++) if ($i == "\"op\"") { op = $(i + 1); gsub(/"/, "", op) }
            print "note " op }' "$1"
}

# --- (b) suppress add / del ----------------------------------------------------------------
ctl suppress add gone@example.org --domain example.com --days 30
pm_assert_eq 2 "$(pm_rcli XLEN $SUPX)" "stream length after suppress add"
now=$(pm_rcli TIME | head -n 1)
x=$(pm_rcli XRANGE $SUPX - + | sed -n '/^x$/{n;p}')
pm_assert_eq "chk example.com gone@example.org
add example.com gone@example.org $x" "$(notes)" "the stream's notes of suppress add: intent, then change"
[ "$x" -ge $((now + 30 * 86400 - 2)) ] && [ "$x" -le $((now + 30 * 86400 + 2)) ] ||
    pm_fail "stream entry's expiry $x, store time $now"
ms=$(copy_is b 1)
echo "daemon b held the added entry within $ms ms"
copy_is a 1 >/dev/null
refuses b gone@example.org
refuses a gone@example.org
# what pm_suplocal_maybe() answers, from a copy loaded as a daemon loads it
pm_assert_eq "loaded 1 $(pm_rcli XREVRANGE $SUPX + - COUNT 1 | head -n 1)
maybe example.com gone@example.org 1
maybe example.com erin@example.org 0
maybe other.example gone@example.org 0
maybe example.com Gone@example.org 0
entries 1 ready 1" "$("$SUPCOPY" -c "$PM_TMP/b.conf" example.com gone@example.org example.com erin@example.org \
    other.example gone@example.org example.com Gone@example.org)" "supcopy after suppress add"
ctl suppress del gone@example.org --domain example.com
pm_assert_eq "chk example.com gone@example.org
del example.com gone@example.org" "$(notes | tail -n 2)" "the stream's notes of suppress del"
copy_is b 0 >/dev/null
accepts b gone@example.org
# none left: an error, and nothing to note
"$CTL" -c "$PM_TMP/a.conf" suppress del gone@example.org --domain example.com >/dev/null 2>&1 &&
    pm_fail "suppress del of an address not on the list succeeded"
pm_assert_eq 4 "$(pm_rcli XLEN $SUPX)" "stream length after a del of nothing"

# --- (c) a hard bounce through daemon a, refused by daemon b ------------------------------
printf 'From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hi\r\nMessage-ID: <alice-1@example.com>\r\n\r\nHello.\r\n' \
    >"$PM_TMP/out.eml"
out=$("$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f alice@example.com -a alice@example.com \
    -D "$PM_TMP/out.eml" -r bob@example.org 2>&1)
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "alice to bob"
{
    printf 'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\nTo: alice@example.com\r\n'
    printf 'Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n'
    printf 'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
    printf -- '--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\n'
    printf -- '--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n'
    printf '\r\nFinal-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n'
    printf 'Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected\r\n'
    printf -- '\r\n--B1--\r\n'
} >"$PM_TMP/dsn.eml"
"$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f "" -D "$PM_TMP/dsn.eml" -r alice@example.com >/dev/null 2>&1 ||
    pm_fail "pmdrive (bounce) failed"
pm_wait_grep 'feedback=hard_bounce sender=alice@example.com rcpt=bob@example\.org' "$PM_TMP/a.log" ||
    pm_fail "no hard bounce learned"
pm_assert_eq 6 "$(pm_rcli XLEN $SUPX)" "stream length after the bounce"
x=$(pm_rcli XREVRANGE $SUPX + - COUNT 1 | sed -n '/^x$/{n;p}')
pm_assert_eq "chk example.com bob@example.org
add example.com bob@example.org $x" "$(notes | tail -n 2)" "the stream's notes of the bounce"
copy_is b 1 >/dev/null
refuses b bob@example.org
pm_rcli ping >/dev/null
pm_wait_grep '"ping"' "$PM_TMP/monitor.notes" || pm_fail "monitor missed the last command"
kill "$NMON_PID"
wait "$NMON_PID" 2>/dev/null || true
pm_assert_eq "note chk
script hset
script expire
note add
note chk
script del
note del" "$(order "$PM_TMP/monitor.notes" gone@example.org)" "MONITOR: suppress add and del, notes around the scripts"
pm_assert_eq "note chk
script hset
script expire
note add" "$(order "$PM_TMP/monitor.notes" bob@example.org)" "MONITOR: the bounce, notes around the script"
pm_assert_eq 0 "$(grep -ciE ' \[[0-9]+ lua\] "xadd"' "$PM_TMP/monitor.notes" || true)" "XADD run by a script"

# an entry of the layout of earlier versions, moved by suppress migrate: noted too
pm_rcli SET "$(PM_LAYOUT=1 pm_key base)sup:old@example.org" "1700000000|5.1.1|alice@example.com" EX 1000 >/dev/null
ctl suppress migrate
pm_assert_eq "moved 1 entry to the lists of their companies" "$(cat "$PM_TMP/ctl.out")" "migrate"
now=$(pm_rcli TIME | head -n 1)
entry=$(pm_rcli XREVRANGE $SUPX + - COUNT 1 | tail -n +2 | tr '\n' ' ')
x=$(pm_rcli XREVRANGE $SUPX + - COUNT 1 | sed -n '/^x$/{n;p}')
pm_assert_eq "op add c example.com a old@example.org x $x " "$entry" "the migrated entry in the stream"
[ "$x" -ge $((now + 998)) ] && [ "$x" -le $((now + 1001)) ] || pm_fail "migrated entry's expiry $x, store time $now"
copy_is b 2 >/dev/null
refuses b old@example.org

# a reload that keeps Redis and the prefix keeps the copy (no second load) and follows on
loads=$(grep -c 'suppression copy: loaded' "$PM_TMP/b.log")
kill -HUP "${PID[b]}"
pm_wait_grep 'reloaded ' "$PM_TMP/b.log" || pm_fail "daemon b did not reload"
ctl suppress add after-reload@example.org --domain example.com
copy_is b 3 >/dev/null
pm_assert_eq "$loads" "$(grep -c 'suppression copy: loaded' "$PM_TMP/b.log")" "loads of b's copy after a reload"
ctl suppress del after-reload@example.org --domain example.com
copy_is b 2 >/dev/null

# --- (d) forget --all, then a write: a gap, a reload ------------------------------------------
"$CTL" -c "$PM_TMP/a.conf" forget --all --yes >"$PM_TMP/ctl.out" 2>&1 || pm_fail "forget: $(cat "$PM_TMP/ctl.out")"
pm_assert_eq 0 "$(pm_rcli EXISTS $SUPX)" "the stream after forget --all"
pm_assert_eq "1 2" "$(gauge b postmeter_suppression_local_ready) $(gauge b postmeter_suppression_local_entries)" \
    "b's copy after forget (more than Redis: only ever 'may be')"
ctl suppress add new@example.org --domain example.com
for d in a b; do
    pm_wait_grep 'suppression copy: .* starts at [0-9]+-[0-9]+, after [1-9][0-9]*-[0-9]+: loading it again' \
        "$PM_TMP/$d.log" || pm_fail "daemon $d saw no gap"
    copy_is $d 1 >/dev/null # new@ alone: bob@ and old@ went with the reload
done
accepts b bob@example.org
refuses b new@example.org

# --- (e) Redis restarted, empty ---------------------------------------------------------------
pm_redis_stop
pm_redis_start "$PM_REDIS_PORT"
copy_is a 0 >/dev/null
copy_is b 0 >/dev/null
accepts b new@example.org
# the primary turned replica (its blocked XREADs are unblocked with an error), then
# primary again: each copy is loaded again, its daemon unharmed
pm_rcli REPLICAOF 127.0.0.1 1 >/dev/null
pm_wait_grep 'suppression copy: .*UNBLOCKED' "$PM_TMP/b.log" || pm_fail "daemon b's follower saw no unblock"
pm_rcli REPLICAOF NO ONE >/dev/null
for d in a b; do
    kill -0 "${PID[$d]}" 2>/dev/null || pm_fail "daemon $d died"
    copy_is $d 0 >/dev/null
done

# --- (g) the copy saves the RCPT round trip ---------------------------------------------
# Meter calls (MONITOR: every EVALSHA or EVAL naming the sender's windows key)
# for 10 one-recipient messages to an external recipient on no list: through
# daemon b, whose copy says "surely not", the first message's RCPT probe and
# then only the commits; through daemon c (no copy) a probe and a commit each.
redis-cli -h 127.0.0.1 -p "$PM_REDIS_PORT" monitor >"$PM_TMP/monitor" &
MON_PID=$!
pm_on_exit "kill $MON_PID 2>/dev/null"
pm_wait_grep '^OK' "$PM_TMP/monitor" || pm_fail "redis-cli monitor did not start"
for d in b c; do
    from=alice@example.com
    [ $d = c ] && from=carol@example.com
    "$DRIVE" -S "unix:$PM_TMP/$d.sock" -c 1 -m 10 -f $from -a $from -r friend@example.org \
        >"$PM_TMP/ten.$d" 2>&1 || pm_fail "pmdrive through $d: $(cat "$PM_TMP/ten.$d")"
    pm_assert_eq "10 10 0" "$(pm_summary "$PM_TMP/ten.$d" messages accepted rcpt_refused)" "10 messages through $d"
done
pm_rcli ping >/dev/null
pm_wait_grep '"ping"' "$PM_TMP/monitor" || pm_fail "monitor missed the last command"
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null || true
calls() { grep -iE '"(evalsha|eval)" ' "$PM_TMP/monitor" | grep -cF "\"$(pm_key "$1" w)\"" || true; }
pm_assert_eq "11 20" "$(calls alice@example.com) $(calls carol@example.com)" \
    "meter calls for 10 messages with the copy (b) and without (c)"
pm_assert_eq 0 "$(grep -ciF "\"get\" \"$(pm_key global clock)\"" "$PM_TMP/monitor" || true)" \
    "reads of the test clock without redis.test_clock"

# --- (f) no copy; clean stops ---------------------------------------------------------------
pm_assert_eq "0 0" "$(gauge c postmeter_suppression_local_ready) $(gauge c postmeter_suppression_local_entries)" \
    "daemon c (local_max 0)"
ctl suppress add last@example.org --domain example.com
refuses c last@example.org
# a copy that follows: a del and an add after its load, answered without Redis
"$SUPCOPY" -c "$PM_TMP/b.conf" -f 5000 -n 2 example.com last@example.org example.com later@example.org \
    >"$PM_TMP/supcopy.out" 2>&1 &
sc=$!
pm_wait_grep '^loaded 1 ' "$PM_TMP/supcopy.out" || pm_fail "supcopy: $(cat "$PM_TMP/supcopy.out")"
ctl suppress del last@example.org --domain example.com
ctl suppress add later@example.org --domain example.com
wait $sc || pm_fail "supcopy failed: $(cat "$PM_TMP/supcopy.out")"
pm_assert_eq "maybe example.com last@example.org 0
maybe example.com later@example.org 1
entries 1 ready 1" "$(tail -n 3 "$PM_TMP/supcopy.out")" "supcopy following"
# a load asked to stop (as a daemon's stop asks before each page) ends there, a failure;
# asked after its one page, it is whole
if "$SUPCOPY" -c "$PM_TMP/b.conf" -s 0 >"$PM_TMP/supcopy.out" 2>&1; then
    pm_fail "supcopy -s 0 loaded: $(cat "$PM_TMP/supcopy.out")"
fi
pm_assert_eq "supcopy: load: redis 127.0.0.1:$PM_REDIS_PORT: the load of the suppression lists was stopped
entries 0 ready 0" "$(cat "$PM_TMP/supcopy.out")" "supcopy stopped before the first page"
"$SUPCOPY" -c "$PM_TMP/b.conf" -s 1 example.com later@example.org >"$PM_TMP/supcopy.out" 2>&1 ||
    pm_fail "supcopy -s 1 failed: $(cat "$PM_TMP/supcopy.out")"
pm_assert_eq "maybe example.com later@example.org 1
entries 1 ready 1" "$(tail -n 2 "$PM_TMP/supcopy.out")" "supcopy asked to stop after its one page"
# a follower past the stream's last id (the stream made anew by a Redis whose clock is behind:
# XREAD after its id would skip the changes) sees a gap when it reads the clock, and loads again
"$SUPCOPY" -c "$PM_TMP/b.conf" -a 99999999999999-0 -f 500 example.com later@example.org \
    >"$PM_TMP/supcopy.out" 2>&1 || pm_fail "supcopy -a failed: $(cat "$PM_TMP/supcopy.out")"
pm_assert_eq "1 2" "$(grep -c '^gap$' "$PM_TMP/supcopy.out") $(grep -c '^loaded 1 ' "$PM_TMP/supcopy.out")" \
    "supcopy past the stream's end: gaps, loads"
pm_assert_eq "maybe example.com later@example.org 1
entries 1 ready 1" "$(tail -n 2 "$PM_TMP/supcopy.out")" "supcopy loaded again after the gap"

# --- (h) an intent left open --------------------------------------------------------------------
pm_rcli ACL SETUSER nohset on '>nohset-pw' '~*' '+@all' '-hset' >/dev/null
printf 'nohset nohset-pw\n' >"$PM_TMP/nohset.pw"
chmod 600 "$PM_TMP/nohset.pw"
sed "s|key_prefix = \"pmtest\";|key_prefix = \"pmtest\"; password_file = \"$PM_TMP/nohset.pw\";|" \
    "$PM_TMP/a.conf" >"$PM_TMP/h.conf"
grep -q 'password_file' "$PM_TMP/h.conf" || pm_fail "h.conf: no password_file"
"$SUPCOPY" -c "$PM_TMP/b.conf" -f 3000 example.com stuck@example.org example.com later@example.org \
    >"$PM_TMP/supcopy.out" 2>&1 &
sc=$!
pm_wait_grep '^loaded 1 ' "$PM_TMP/supcopy.out" || pm_fail "supcopy: $(cat "$PM_TMP/supcopy.out")"
"$CTL" -c "$PM_TMP/h.conf" suppress add stuck@example.org --domain example.com >"$PM_TMP/ctl.out" 2>&1 &&
    pm_fail "suppress add without HSET succeeded: $(cat "$PM_TMP/ctl.out")"
grep -q "can't run this command" "$PM_TMP/ctl.out" || pm_fail "suppress add without HSET: $(cat "$PM_TMP/ctl.out")"
pm_assert_eq "chk example.com stuck@example.org" "$(notes | tail -n 1)" "the stream after the failed script"
INTENT_AT=$(pm_rcli XLEN $SUPX) # the intent's place in the stream, for (i)
pm_assert_eq 0 "$(pm_rcli EXISTS "$(pm_key sup example.com stuck@example.org)")" "no entry written"
wait $sc || pm_fail "supcopy failed: $(cat "$PM_TMP/supcopy.out")"
pm_assert_eq "maybe example.com stuck@example.org 1
maybe example.com later@example.org 1
entries 1 ready 1" "$(tail -n 3 "$PM_TMP/supcopy.out")" "supcopy following the open intent"
pm_assert_eq "maybe example.com stuck@example.org 1
maybe example.com other@example.org 0
entries 1 ready 1" "$("$SUPCOPY" -c "$PM_TMP/b.conf" example.com stuck@example.org example.com other@example.org | tail -n 3)" \
    "supcopy loaded after the open intent"

# a copy that the changes it follows fill past local_max gives up, and says so once
start d 2
copy_is d 1 >/dev/null
ctl suppress add over1@example.org --domain example.com
ctl suppress add over2@example.org --domain example.com
for _ in $(seq 1 50); do
    [ "$(gauge d postmeter_suppression_local_ready)" = 0 ] && break
    sleep 0.1
done
pm_assert_eq 0 "$(gauge d postmeter_suppression_local_ready)" "daemon d past local_max 2"
refuses d over2@example.org
pm_assert_eq 1 "$(grep -c 'suppression copy: more than suppression.local_max (2) entries' "$PM_TMP/d.log")" \
    "daemon d's warnings of a full copy"
for d in a b c d; do pm_stop_clean "${PID[$d]}" "daemon $d"; done

# --- (i) the load's notes, read a page of 1,000 at a time -------------------------------------
# changes (2 notes each) after stuck@'s open intent up to 9,998 notes after it:
# it is among the latest 10,000 notes a load reads, back and forth over pages;
# 2 more changes push it out, and the copy says "surely not" for it
# (a copy of b's configuration that holds them all)
sed 's/local_max = 1000;/local_max = 100000;/' "$PM_TMP/b.conf" >"$PM_TMP/i.conf"
grep -q 'local_max = 100000;' "$PM_TMP/i.conf" || pm_fail "i.conf: no local_max"
after=$(($(pm_rcli XLEN $SUPX) - INTENT_AT))
"$SUPADD" -c "$PM_TMP/a.conf" example.net $(((9998 - after) / 2)) >"$PM_TMP/supadd.out" 2>&1 ||
    pm_fail "supadd: $(cat "$PM_TMP/supadd.out")"
pm_assert_eq "maybe example.com stuck@example.org 1 maybe example.com other@example.org 0 " \
    "$("$SUPCOPY" -c "$PM_TMP/i.conf" example.com stuck@example.org example.com other@example.org | grep '^maybe' | tr '\n' ' ')" \
    "supcopy with the intent $((1 + after + (9998 - after) / 2 * 2)) notes back"
"$SUPADD" -c "$PM_TMP/a.conf" example.net 2 >"$PM_TMP/supadd.out" 2>&1 ||
    pm_fail "supadd: $(cat "$PM_TMP/supadd.out")"
pm_assert_eq "maybe example.com stuck@example.org 0 maybe example.com other@example.org 0 " \
    "$("$SUPCOPY" -c "$PM_TMP/i.conf" example.com stuck@example.org example.com other@example.org | grep '^maybe' | tr '\n' ' ')" \
    "supcopy with the intent $((5 + after + (9998 - after) / 2 * 2)) notes back"
echo "suplocal: ok"
