#!/bin/bash
# cluster_exact.sh - exactness on a Redis Cluster: three postmeter processes
# with redis.cluster seeds (3 primaries, 3 replicas on loopback), three
# senders whose companies hash to slots of three different primaries, each
# limited to 30 messages per hour, 60 messages each offered at once by 36
# concurrent milter sessions: exactly 30 of each pass and the other 30 get
# the hourly-limit 4xx; each sender's keys are on its company's primary
# alone, and no daemon logged a key outside a script's slot. postmeterctl
# status shows 30 used for each; top lists them and a fourth sender (merged
# over the primaries); the metrics' top sender is one of the three (merged
# by count); servers lists the three daemons; suppress list and incident
# list answer over every primary; migrate and suppress migrate are refused;
# forget --all empties every primary of the prefix and leaves a key of
# another prefix on each.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE" redis-server redis-cli curl
PM_FAIL_LOGS="$PM_TMP/pm*.log $PM_TMP/cl*/log"

pm_cluster_start 3 1

# The ports of the primaries, and a company (domain) on each.
pm_cluster_primaries 3
pm_cluster_domains pmtest
SENDERS=("a@${DOMAINS[0]}" "b@${DOMAINS[1]}" "c@${DOMAINS[2]}")
echo "senders: ${SENDERS[*]} on primaries ${PRIMARIES[*]}"

# A key of another prefix on each primary, that forget --all must leave.
for i in 0 1 2; do
    pm_ccli SET "other:{${DOMAINS[$i]}}:keep" 1 >/dev/null
done

export PM_REDIS_EXTRA="cluster = [ \"127.0.0.1:${PM_CLUSTER_PORTS[0]}\", \"127.0.0.1:${PM_CLUSTER_PORTS[1]}\" ];"

# Write the config of server $1 (its own socket, the cluster, a plan of 30 an
# hour; server 1 serves metrics).
write_conf() {
    local metrics=
    [ "$1" = 1 ] && metrics="metrics: { listen = \"127.0.0.1:$MPORT\"; top_senders = 1; refresh_seconds = 5; };"
    PM_MILTER_SOCKET="unix:$PM_TMP/pm$1.sock" pm_write_conf "$PM_TMP/pm$1.conf" <<EOF
$metrics
on_store_error = "tempfail";
login_domain = "example.com";
plans: {
  default: { messages_per_hour = 30; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
};
EOF
}

MPORT=$(pm_free_port)
for n in 1 2 3; do
    write_conf "$n"
done
pm_start_servers 3

# All the traffic at once: each sender on every server, 4 sessions of 5 messages.
for n in 1 2 3; do
    for i in 0 1 2; do
        "$DRIVE" -S "unix:$PM_TMP/pm$n.sock" -c 4 -m 5 -f "${SENDERS[$i]}" \
            >"$PM_TMP/s$i.$n.out" 2>"$PM_TMP/s$i.$n.err" &
    done
done
# and a fourth sender, of a company that sorts first, with 3 messages
"$DRIVE" -S "unix:$PM_TMP/pm1.sock" -c 1 -m 3 -f z@aa1.example >"$PM_TMP/z.out" 2>&1 &
wait_failed=0
for job in $(jobs -p); do
    case " ${PIDS[*]} " in *" $job "*) continue ;; esac
    wait "$job" || wait_failed=1
done
cat "$PM_TMP"/s*.err >&2
pm_assert_eq 0 "$wait_failed" "pmdrive exit status (protocol or I/O errors)"

for i in 0 1 2; do
    s=${SENDERS[$i]}
    F=("$PM_TMP"/s$i.[123].out)
    pm_assert_eq 60 "$(pm_sum messages "${F[@]}")" "$s: messages offered"
    pm_assert_eq 30 "$(pm_sum accepted "${F[@]}")" "$s: messages accepted"
    pm_assert_eq 30 "$(pm_sum tempfail "${F[@]}")" "$s: messages tempfailed"
    pm_assert_eq 0 "$(pm_sum errors "${F[@]}")" "$s: errors"
    RE="^451 4\\.7\\.1 <${s//./\\.}>: hourly sending limit reached \\(30 messages per hour\\)"
    pm_assert_eq 30 "$(pm_replies_matching "$RE" "${F[@]}")" "$s: replies with the hourly text"
    # the sender's keys are on the primary of its company's slot, and only there
    for port in "${PRIMARIES[@]}"; do
        n=$(redis-cli -p "$port" --scan --pattern "pmtest:v2:{${DOMAINS[$i]}}:*" | wc -l)
        if [ "$port" = "${PRIMARIES[$i]}" ]; then
            [ "$n" -gt 0 ] || pm_fail "$s: no key on its primary $port"
        else
            pm_assert_eq 0 "$n" "$s: keys on primary $port"
        fi
    done
done

ctl() {
    "$CTL" -c "$PM_TMP/pm1.conf" "$@"
}
pm_assert_eq "3 0" "$(pm_summary "$PM_TMP/z.out" accepted tempfail)" "z@aa1.example: accepted, tempfailed"

# the metrics' top sender (top_senders = 1) is one of the three with 30, of
# whatever primary, not the first company's sender with 3
series=
for _ in $(seq 1 150); do
    curl -s -m 5 -o "$PM_TMP/scrape.txt" "http://127.0.0.1:$MPORT/metrics" &&
        series=$(grep '^postmeter_sender_used{.*window="hour",counter="messages"}' "$PM_TMP/scrape.txt") &&
        [ -n "$series" ] && break
    sleep 0.1
done
pm_assert_eq 1 "$(grep -c . <<<"$series")" "metrics: top sender series ($series)"
grep -qE "^postmeter_sender_used\{sender=\"[abc]@d[0-9]+\.example\",window=\"hour\",counter=\"messages\"\} 30$" <<<"$series" ||
    pm_fail "metrics: top sender: $series"
for s in "${SENDERS[@]}"; do
    json=$(ctl --json status "$s") || pm_fail "status $s: $json"
    pm_assert_eq 30 "$(grep -o '"messages_per_hour":{"used":[0-9]*' <<<"$json" | sed 's/.*://')" \
        "$s: postmeterctl status, messages used this hour"
done
json=$(ctl --json top -n 10) || pm_fail "top failed: $json"
for s in "${SENDERS[@]}"; do
    grep -q "\"sender\":\"$s\"" <<<"$json" || pm_fail "top lacks $s: $json"
done
pm_assert_eq 4 "$(grep -o '"rank":' <<<"$json" | wc -l)" "top: senders listed"

# no call of the daemons touched a key outside its slot
bad=$(grep -hE "CROSSSLOT|non local key|do not hash to the same slot" "$PM_TMP"/pm[123].log | head -n 3)
pm_assert_eq "" "$bad" "slot errors in the daemons' logs"

# the other readers over the shards: the daemons' heartbeats ({@}), no
# suppression entry and no incident on any primary
json=$(ctl --json servers) || pm_fail "servers: $json"
pm_assert_eq 3 "$(grep -o '{"host":' <<<"$json" | wc -l)" "servers: daemons listed ($json)"
json=$(ctl --json suppress list) || pm_fail "suppress list: $json"
grep -q '"total":0,' <<<"$json" || pm_fail "suppress list: $json"
json=$(ctl --json incident list) || pm_fail "incident list: $json"

# migrate is refused on a cluster
if ctl migrate >"$PM_TMP/migrate.out" 2>&1; then
    pm_fail "migrate ran on a cluster: $(cat "$PM_TMP/migrate.out")"
fi
grep -q "not on a cluster" "$PM_TMP/migrate.out" || pm_fail "migrate: $(cat "$PM_TMP/migrate.out")"
if ctl suppress migrate >"$PM_TMP/migrate.out" 2>&1; then
    pm_fail "suppress migrate ran on a cluster: $(cat "$PM_TMP/migrate.out")"
fi
grep -q "not on a cluster" "$PM_TMP/migrate.out" || pm_fail "suppress migrate: $(cat "$PM_TMP/migrate.out")"

# Every server is still alive, then stops cleanly on SIGTERM.
for i in 0 1 2; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || pm_fail "postmeter $((i + 1)) died"
    kill -TERM "${PIDS[$i]}"
done
for i in 0 1 2; do
    pm_stop_clean "${PIDS[$i]}" "postmeter $((i + 1))"
done

# forget --all empties every primary of the prefix, and only of it
ctl forget --all --yes >"$PM_TMP/forget.out" 2>&1 || pm_fail "forget --all: $(cat "$PM_TMP/forget.out")"
for port in "${PRIMARIES[@]}"; do
    pm_assert_eq 0 "$(redis-cli -p "$port" --scan --pattern 'pmtest:*' | wc -l)" "keys of the prefix left on $port"
    pm_assert_eq 1 "$(redis-cli -p "$port" DBSIZE)" "keys on $port after forget --all (another prefix's)"
done
echo "PASS: cluster_exact.sh"
exit 0
