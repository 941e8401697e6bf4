#!/bin/bash
# cluster_failover.sh - a Redis Cluster primary dies: postmeter (on_store_error
# = tempfail) answers 451 4.3.0 for the company whose slot it served until
# its replica is promoted, meters the others exactly meanwhile, and counts
# the first company again once the replica took over. The primary killed
# (kill -9, cluster-node-timeout 2000 ms) is not the one of the global keys'
# slot ({@}). Then {@}'s primary dies: its company's mail gets 451 4.3.0
# until the promotion, the other company is counted exactly (the test clock
# as last read), and the suppression copy loads again from the stream's
# new primary (a gap). Every count is checked with postmeterctl status.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE" redis-server redis-cli
PM_FAIL_LOGS="$PM_TMP/pm*.log"

PM_CLUSTER_NODE_TIMEOUT=2000 pm_cluster_start 3 1

# The port of the primary serving key $1 (asked of every primary: the one that takes it).
primary_of() {
    local port
    for port in "${PM_CLUSTER_PORTS[@]}"; do
        redis-cli -p "$port" ROLE 2>/dev/null | head -n 1 | grep -qx master || continue
        redis-cli -p "$port" EXISTS "$1" 2>/dev/null | grep -qx '[0-9][0-9]*' && echo "$port" && return 0
    done
    return 1
}
AT=$(primary_of "pmtest:v2:{@}:clock") || pm_fail "no primary serves {@}"
# a victim company on a primary other than {@}'s, and a company on {@}'s (it stays)
for i in $(seq 1 200); do
    p=$(primary_of "pmtest:v2:{d$i.example}:x") || continue
    if [ "$p" != "$AT" ] && [ -z "${VP:-}" ]; then
        VP=$p
        V=v@d$i.example
    elif [ "$p" = "$AT" ] && [ -z "${O:-}" ]; then
        O=o@d$i.example
    fi
    [ -n "${VP:-}" ] && [ -n "${O:-}" ] && break
done
[ -n "${VP:-}" ] && [ -n "${O:-}" ] || pm_fail "no companies found"
echo "victim $V on $VP, other $O on $AT ({@})"

PM_REDIS_EXTRA="cluster = [ \"127.0.0.1:${PM_CLUSTER_PORTS[0]}\", \"127.0.0.1:${PM_CLUSTER_PORTS[1]}\", \"127.0.0.1:${PM_CLUSTER_PORTS[2]}\" ];" \
    PM_MILTER_SOCKET="unix:$PM_TMP/pm1.sock" pm_write_conf "$PM_TMP/pm1.conf" <<'EOF'
on_store_error = "tempfail";
login_domain = "example.com";
plans: {
  default: { messages_per_hour = 100000; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
};
EOF
"$PM" -c "$PM_TMP/pm1.conf" -f 2>"$PM_TMP/pm1.log" &
pm_on_exit "kill -9 $!"
pm_wait_file "$PM_TMP/pm1.sock" || pm_fail "postmeter did not create its socket"

# Send $2 messages from $1 in one session; output in $PM_TMP/$3.
send() {
    "$DRIVE" -S "unix:$PM_TMP/pm1.sock" -c 1 -m "$2" -f "$1" >"$PM_TMP/$3" 2>&1 ||
        pm_fail "pmdrive $3: $(cat "$PM_TMP/$3")"
}
ctl() {
    "$CTL" -c "$PM_TMP/pm1.conf" "$@"
}
used() {
    ctl --json status "$1" | grep -o '"messages_per_hour":{"used":[0-9]*' | sed 's/.*://'
}

send "$V" 5 v.before
send "$O" 5 o.before
pm_assert_eq "5 0" "$(pm_summary "$PM_TMP/v.before" accepted tempfail)" "$V before"
pm_assert_eq "5 0" "$(pm_summary "$PM_TMP/o.before" accepted tempfail)" "$O before"
# the replica has every write before the primary dies
pm_assert_eq 1 "$(pm_redis_replicated "$VP")" "the replica acknowledging every write"

kill -9 "$(redis-cli -p "$VP" INFO server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')"
send "$V" 3 v.gap
send "$O" 5 o.gap
pm_assert_eq "0 3" "$(pm_summary "$PM_TMP/v.gap" accepted tempfail)" "$V in the gap"
pm_assert_eq 3 "$(pm_replies_matching '^451 4\.3\.0 ' "$PM_TMP/v.gap")" "$V: 451 4.3.0 in the gap"
pm_assert_eq "5 0" "$(pm_summary "$PM_TMP/o.gap" accepted tempfail)" "$O in the gap"

# the replica takes over (bounded: 30 s); then the victim's mail is counted again
ok=0
for t in $(seq 1 300); do
    send "$V" 1 v.probe
    if [ "$(pm_summary "$PM_TMP/v.probe" accepted)" = 1 ]; then
        ok=1
        break
    fi
    sleep 0.1
done
[ $ok = 1 ] || pm_fail "$V: no message accepted 30 s after the kill"
echo "$V accepted again after $t probes"
send "$V" 5 v.after
pm_assert_eq "5 0" "$(pm_summary "$PM_TMP/v.after" accepted tempfail)" "$V after the promotion"
pm_assert_eq 11 "$(used "$V")" "$V: messages counted (5 before, 1 probe, 5 after)"
pm_assert_eq 10 "$(used "$O")" "$O: messages counted"
grep -q "slot map read" "$PM_TMP/pm1.log" || pm_fail "no slot map read logged"

# Then the primary of {@} dies (the stream, the heartbeats, the test clock):
# its company's mail gets 451 4.3.0 until the promotion, the victim's
# company (its clock offset as last read) is counted exactly meanwhile, and
# the suppression copy, whose stream moved to another primary, loads again.
pm_assert_eq 1 "$(pm_redis_replicated "$AT")" "the replica of {@}'s primary acknowledging every write"
# the copy is loaded now (the first kill may have stopped it: CLUSTERDOWN)
for _ in $(seq 1 300); do
    grep "suppression copy: " "$PM_TMP/pm1.log" | tail -n 1 | grep -q "suppression copy: loaded" && break
    sleep 0.1
done
grep "suppression copy: " "$PM_TMP/pm1.log" | tail -n 1 | grep -q "suppression copy: loaded" ||
    pm_fail "the suppression copy is not loaded before the second kill"
LOG_AT=$(($(wc -l <"$PM_TMP/pm1.log") + 1))
kill -9 "$(redis-cli -p "$AT" INFO server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')"
send "$O" 3 o.gap2
send "$V" 5 v.gap2
pm_assert_eq "0 3" "$(pm_summary "$PM_TMP/o.gap2" accepted tempfail)" "$O in the gap of {@}"
pm_assert_eq 3 "$(pm_replies_matching '^451 4\.3\.0 ' "$PM_TMP/o.gap2")" "$O: 451 4.3.0 in the gap of {@}"
pm_assert_eq "5 0" "$(pm_summary "$PM_TMP/v.gap2" accepted tempfail)" "$V in the gap of {@}"
ok=0
for t in $(seq 1 300); do
    send "$O" 1 o.probe
    if [ "$(pm_summary "$PM_TMP/o.probe" accepted)" = 1 ]; then
        ok=1
        break
    fi
    sleep 0.1
done
[ $ok = 1 ] || pm_fail "$O: no message accepted 30 s after the kill of {@}'s primary"
pm_assert_eq 16 "$(used "$V")" "$V: messages counted (11 and 5 in the gap of {@})"
pm_assert_eq 11 "$(used "$O")" "$O: messages counted (10 and 1 probe)"
# the copy stopped following (a failure or a gap), then loaded again
copy_again() {
    tail -n +"$LOG_AT" "$PM_TMP/pm1.log" |
        grep -A 100 -E "suppression copy: .*(loading it again|until it is loaded again)" |
        grep -q "suppression copy: loaded"
}
for _ in $(seq 1 300); do
    copy_again && break
    sleep 0.1
done
copy_again ||
    pm_fail "the suppression copy did not load again: $(tail -n +"$LOG_AT" "$PM_TMP/pm1.log" | grep -v stage=)"
echo "PASS: cluster_failover.sh"
exit 0
