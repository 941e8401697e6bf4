#!/bin/bash
# cluster_reshard.sh - mail goes on while a Redis Cluster moves a company's
# slot: two postmeter daemons (on_store_error = tempfail, so any store
# failure shows as a 451 4.3.0) meter two senders, one whose company's slot
# is among the first 200 slots of the primary serving slot 0 and one on
# another primary, in a bounded loop of milter sessions, while redis-cli
# --cluster reshard moves those 200 slots to a third primary and back. No
# message gets a 4xx, every message is counted exactly once (postmeterctl
# status equals the messages accepted), the moving sender's keys end on
# its first primary again, and the daemons counted redirections
# (postmeter_store_redirects_total).
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE" redis-server redis-cli curl
PM_FAIL_LOGS="$PM_TMP/pm*.log $PM_TMP/cluster-reshard.log"

pm_cluster_start 3 1

# The primary serving slot 0 (A), its first slot range's end, and the others (B, C).
read -r A_LO A_HI A <<<"$(redis-cli -p "${PM_CLUSTER_PORTS[0]}" CLUSTER SLOTS |
    awk '{ v[NR] = $0 } END { for (i = 1; i + 3 <= NR; i++)
        if (v[i] == 0 && v[i + 2] == "127.0.0.1") { print v[i], v[i + 1], v[i + 3]; exit } }')"
[ -n "$A" ] || pm_fail "no primary serves slot 0"
OTHERS=()
for port in "${PM_CLUSTER_PORTS[@]}"; do
    [ "$port" != "$A" ] && redis-cli -p "$port" ROLE | head -n 1 | grep -qx master && OTHERS+=("$port")
done
pm_assert_eq 2 "${#OTHERS[@]}" "other primaries"
B=${OTHERS[0]}
C=${OTHERS[1]}

# Print the first d<i>.example (i up to 5000) whose slot is in [$1, $2].
domain_in() {
    local i
    for i in $(seq 1 5000); do
        echo "CLUSTER KEYSLOT pmtest:v2:{d$i.example}:x"
    done | redis-cli -p "$A" | awk -v lo="$1" -v hi="$2" '$1 >= lo && $1 <= hi { print "d" NR ".example"; exit }'
}
DM=$(domain_in "$A_LO" $((A_LO + 199)))
[ -n "$DM" ] || pm_fail "no domain in the first 200 slots of $A"
B_RANGE=$(redis-cli -p "$B" CLUSTER SLOTS | awk -v p="$B" '{ v[NR] = $0 } END { for (i = 1; i + 3 <= NR; i++)
    if (v[i + 2] == "127.0.0.1" && v[i + 3] == p && v[i] ~ /^[0-9]+$/ && v[i + 1] ~ /^[0-9]+$/) { print v[i], v[i + 1]; exit } }')
DS=$(domain_in ${B_RANGE})
[ -n "$DS" ] || pm_fail "no domain on $B ($B_RANGE)"
MOVER=m@$DM
STAYER=s@$DS
echo "moving: $MOVER (primary $A, slots from $A_LO), staying: $STAYER (primary $B), target $C"

MPORT=$(pm_free_port)
for n in 1 2; do
    extra=
    [ "$n" = 1 ] && extra="metrics: { listen = \"127.0.0.1:$MPORT\"; };"
    PM_REDIS_EXTRA="cluster = [ \"127.0.0.1:${PM_CLUSTER_PORTS[0]}\" ];" \
        PM_MILTER_SOCKET="unix:$PM_TMP/pm$n.sock" pm_write_conf "$PM_TMP/pm$n.conf" <<EOF
on_store_error = "tempfail";
login_domain = "example.com";
plans: {
  default: { messages_per_hour = 100000; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
};
$extra
EOF
    "$PM" -c "$PM_TMP/pm$n.conf" -f 2>"$PM_TMP/pm$n.log" &
    pm_on_exit "kill -9 $!"
done
for n in 1 2; do
    pm_wait_file "$PM_TMP/pm$n.sock" || pm_fail "postmeter $n did not create its socket"
done

# Send batches from sender $1 through daemon $2 until $PM_TMP/stop exists
# (at most 300 batches of 2 sessions x 5 messages); outputs $PM_TMP/out.$3.<batch>.
flow() {
    local b
    for b in $(seq 1 300); do
        [ -e "$PM_TMP/stop" ] && break
        "$DRIVE" -S "unix:$PM_TMP/pm$2.sock" -c 2 -m 5 -f "$1" >"$PM_TMP/out.$3.$b" 2>>"$PM_TMP/drive.err" ||
            echo "pmdrive failed" >>"$PM_TMP/drive.err"
    done
}
flow "$MOVER" 1 m1 &
F1=$!
flow "$MOVER" 2 m2 &
F2=$!
flow "$STAYER" 2 s2 &
F3=$!
sleep 1
pm_cluster_reshard "$A" "$C" 200
sleep 1
pm_cluster_reshard "$C" "$A" 200
sleep 1
touch "$PM_TMP/stop"
wait "$F1" "$F2" "$F3"
[ -s "$PM_TMP/drive.err" ] && pm_fail "pmdrive: $(head -n 5 "$PM_TMP/drive.err")"

ctl() {
    "$CTL" -c "$PM_TMP/pm1.conf" "$@"
}
for who in m s; do
    s=$([ $who = m ] && echo "$MOVER" || echo "$STAYER")
    F=("$PM_TMP"/out.$who[12].*)
    sent=$(pm_sum messages "${F[@]}")
    echo "$s: $sent messages in ${#F[@]} batches"
    [ "$sent" -ge 20 ] || pm_fail "$s: only $sent messages sent"
    pm_assert_eq "$sent" "$(pm_sum accepted "${F[@]}")" "$s: messages accepted"
    pm_assert_eq 0 "$(pm_sum tempfail "${F[@]}")" "$s: messages tempfailed"
    pm_assert_eq 0 "$(pm_sum errors "${F[@]}")" "$s: errors"
    json=$(ctl --json status "$s") || pm_fail "status $s: $json"
    pm_assert_eq "$sent" "$(grep -o '"messages_per_hour":{"used":[0-9]*' <<<"$json" | sed 's/.*://')" \
        "$s: messages counted"
done
[ "$(redis-cli -p "$A" --scan --pattern "pmtest:v2:{$DM}:*" | wc -l)" -gt 0 ] ||
    pm_fail "$MOVER: no key on $A after the move back"
pm_assert_eq 0 "$(redis-cli -p "$C" --scan --pattern "pmtest:v2:{$DM}:*" | wc -l)" "$MOVER: keys left on $C"

curl -s -m 5 -o "$PM_TMP/scrape.txt" "http://127.0.0.1:$MPORT/metrics" || pm_fail "no metrics"
moved=$(awk '$1 == "postmeter_store_redirects_total{kind=\"moved\"}" { print $2 }' "$PM_TMP/scrape.txt")
grep '^postmeter_store_redirects_total' "$PM_TMP/scrape.txt"
[ "${moved:-0}" -gt 0 ] || pm_fail "no MOVED counted: $(grep redirects "$PM_TMP/scrape.txt")"
echo "PASS: cluster_reshard.sh"
exit 0
