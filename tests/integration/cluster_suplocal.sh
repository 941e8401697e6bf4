#!/bin/bash
# cluster_suplocal.sh - each daemon's copy of the suppression lists on a Redis
# Cluster (3 primaries, 3 replicas on loopback), two daemons with the copy on,
# a company on each primary:
#   (a) postmeterctl suppress add of an address for the company of each
#       primary, and a hard bounce learned through the feedback path for one
#       of them: both copies hold exactly those 4 entries, each daemon
#       refuses each of them (550 5.1.1) for its company and accepts it for
#       another company; suppress list lists exactly them over the primaries;
#       suppress del removes one and both copies follow (3);
#   (b) kill -9 of the primary of {@} (the stream): both followers see a gap
#       or a failure and load again after the promotion, holding exactly the
#       3 entries; an entry added after the promotion reaches both copies (4),
#       and both daemons refuse it.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$top_builddir/postmeter" "$CTL" "$DRIVE" redis-server redis-cli curl
PM_FAIL_LOGS="$PM_TMP/[ab].log"

PM_CLUSTER_NODE_TIMEOUT=2000 pm_cluster_start 3 1
pm_secret_file "$PM_TMP/contacts.key"

# The ports of the primaries, and a company (domain) on each.
pm_cluster_primaries 3
pm_cluster_domains pmtest
D=("${DOMAINS[@]}")
AT=
for port in "${PRIMARIES[@]}"; do
    pm_cluster_serves "$port" "pmtest:v2:{@}:supx" && AT=$port
done
[ -n "$AT" ] || pm_fail "no primary serves {@}"
echo "companies ${D[*]} on primaries ${PRIMARIES[*]}; {@} on $AT"

export PM_REDIS_EXTRA="cluster = [ \"127.0.0.1:${PM_CLUSTER_PORTS[0]}\", \"127.0.0.1:${PM_CLUSTER_PORTS[1]}\", \"127.0.0.1:${PM_CLUSTER_PORTS[2]}\" ];"

declare -A MPORT PID
# Start daemon $1 with the suppression copy on and a metrics endpoint.
start() {
    MPORT[$1]=$(pm_free_port)
    PM_TEST_CLOCK=false pm_milter_start "$1" <<CONF
login_domain = "example.com";
local_domains = [ "${D[0]}", "${D[1]}", "${D[2]}" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
feedback: { authserv_id = "mx.example.com"; };
suppression: { local_max = 1000; };
metrics: { listen = "127.0.0.1:${MPORT[$1]}"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
rules = ( );
CONF
    PID[$1]=$PM_LAST_PID
    pm_wait_port "${MPORT[$1]}" || pm_fail "daemon $1: no metrics endpoint"
}
start a
start b

ctl() { "$CTL" -c "$PM_TMP/a.conf" "$@" >"$PM_TMP/ctl.out" 2>&1 || pm_fail "postmeterctl $*: $(cat "$PM_TMP/ctl.out")"; }

# Print the value of gauge $2 of daemon $1.
gauge() {
    curl -s -m 5 "http://127.0.0.1:${MPORT[$1]}/metrics" | awk -v s="$2" '$1 == s { print $2 }'
}

# Wait (bounded: 30 s, room for a promotion and the follower's backoff) until
# daemon $1's copy is ready with $2 entries, or fail.
copy_is() {
    for _ in $(seq 1 600); do
        [ "$(gauge "$1" postmeter_suppression_local_ready) $(gauge "$1" postmeter_suppression_local_entries)" = "1 $2" ] &&
            return 0
        sleep 0.05
    done
    pm_fail "daemon $1's copy: ready $(gauge "$1" postmeter_suppression_local_ready), entries $(gauge "$1" postmeter_suppression_local_entries); wanted ready with $2"
}

# Drive one message through daemon $1 from $2 to $3 and erin@example.org; pmdrive's output.
drive() {
    "$DRIVE" -S "unix:$PM_TMP/$1.sock" -c 1 -m 1 -f "$2" -a "$2" -r "$3" -r erin@example.org 2>&1
}

# Check that daemon $1 refuses $3 (550 5.1.1) to a sender of company $2.
refuses() {
    local out
    out=$(drive "$1" "dave@$2" "$3")
    grep -q '^messages=1 accepted=1 .* rcpt_refused=1$' <<<"$out" || pm_fail "daemon $1, $2 to $3: $out"
    grep -q "^reply 1 550 5.1.1 <$3>" <<<"$out" || pm_fail "daemon $1, $2, reply for $3: $out"
}

# Check that daemon $1 accepts $3 from a sender of company $2.
accepts() {
    local out
    out=$(drive "$1" "dave@$2" "$3")
    grep -q '^messages=1 accepted=1 .* rcpt_refused=0$' <<<"$out" || pm_fail "daemon $1, $2 to $3: $out"
}

# The entries of suppress list, one a line: "company recipient", sorted.
listed() {
    ctl --json suppress list
    grep -o '"company":"[^"]*","recipient":"[^"]*"' "$PM_TMP/ctl.out" |
        sed 's/"company":"\([^"]*\)","recipient":"\([^"]*\)"/\1 \2/' | sort
}

copy_is a 0
copy_is b 0

# --- (a) an entry per primary by postmeterctl, one by a bounce --------------------------------
for i in 0 1 2; do
    ctl suppress add "gone$i@example.org" --domain "${D[$i]}" --days 30
done
# alice of the second company writes to bob, whose server bounces it (through daemon a)
printf 'From: alice@%s\r\nTo: bob@example.org\r\nSubject: hi\r\nMessage-ID: <alice-1@%s>\r\n\r\nHello.\r\n' \
    "${D[1]}" "${D[1]}" >"$PM_TMP/out.eml"
out=$("$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f "alice@${D[1]}" -a "alice@${D[1]}" \
    -D "$PM_TMP/out.eml" -r bob@example.org 2>&1)
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "alice to bob"
{
    printf 'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\nTo: alice@%s\r\n' "${D[1]}"
    printf 'Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n'
    printf 'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
    printf -- '--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\n'
    printf -- '--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n'
    printf '\r\nFinal-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n'
    printf 'Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected\r\n'
    printf -- '\r\n--B1--\r\n'
} >"$PM_TMP/dsn.eml"
"$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f "" -D "$PM_TMP/dsn.eml" -r "alice@${D[1]}" >/dev/null 2>&1 ||
    pm_fail "pmdrive (bounce) failed"
pm_wait_grep "feedback=hard_bounce sender=alice@${D[1]//./\\.} rcpt=bob@example\\.org" "$PM_TMP/a.log" ||
    pm_fail "no hard bounce learned"
copy_is a 4
copy_is b 4
for d in a b; do
    for i in 0 1 2; do
        refuses $d "${D[$i]}" "gone$i@example.org"
        accepts $d "${D[$(((i + 1) % 3))]}" "gone$i@example.org"
    done
    refuses $d "${D[1]}" bob@example.org
    accepts $d "${D[2]}" bob@example.org
done
pm_assert_eq "$(printf '%s\n' "${D[0]} gone0@example.org" "${D[1]} bob@example.org" \
    "${D[1]} gone1@example.org" "${D[2]} gone2@example.org" | sort)" "$(listed)" "suppress list over the primaries"
grep -q '"total":4,' "$PM_TMP/ctl.out" || pm_fail "suppress list total: $(cat "$PM_TMP/ctl.out")"
ctl suppress del gone0@example.org --domain "${D[0]}"
copy_is a 3
copy_is b 3
accepts a "${D[0]}" gone0@example.org
accepts b "${D[0]}" gone0@example.org
pm_assert_eq 3 "$(listed | wc -l)" "suppress list after a del"

# --- (a2) a company's slot moves to another primary -------------------------------------------
# A load that ran while the slot moved could have missed entries moved between two primaries'
# SCANs: once a daemon learns of the move (the MOVED its next request for the company meets), its
# copy loads again, and holds exactly the same entries.
SLOT=$(redis-cli -p "${PRIMARIES[1]}" CLUSTER KEYSLOT "pmtest:v2:{${D[1]}}:x")
LOG_AM=$(($(wc -l <"$PM_TMP/a.log") + 1))
LOG_BM=$(($(wc -l <"$PM_TMP/b.log") + 1))
pm_cluster_move_slot "$SLOT" "${PRIMARIES[1]}" "${PRIMARIES[2]}"
pm_assert_eq 1 "$(redis-cli -p "${PRIMARIES[2]}" EXISTS "pmtest:v2:{${D[1]}}:sup:bob@example.org")" \
    "bob's entry on the slot's new primary"
for d in a b; do
    refuses $d "${D[1]}" bob@example.org
done
# 0 when daemon $1's log from line $2 shows the move's gap and then a load.
moved_again() {
    tail -n +"$2" "$PM_TMP/$1.log" | grep -A 100 "a slot moved to another primary since the load" |
        grep -q "suppression copy: loaded"
}
for _ in $(seq 1 300); do
    moved_again a "$LOG_AM" && moved_again b "$LOG_BM" && break
    sleep 0.1
done
moved_again a "$LOG_AM" || pm_fail "daemon a's copy did not load again after the move: $(tail -n +"$LOG_AM" "$PM_TMP/a.log" | grep -v stage=)"
moved_again b "$LOG_BM" || pm_fail "daemon b's copy did not load again after the move: $(tail -n +"$LOG_BM" "$PM_TMP/b.log" | grep -v stage=)"
copy_is a 3
copy_is b 3
for d in a b; do
    refuses $d "${D[1]}" gone1@example.org
done

# --- (b) the primary of {@} dies --------------------------------------------------------------
for port in "${PRIMARIES[@]}"; do
    pm_assert_eq 1 "$(pm_redis_replicated "$port")" "the replica of $port acknowledging every write"
done
LOG_AT=$(($(wc -l <"$PM_TMP/a.log") + 1))
LOG_BT=$(($(wc -l <"$PM_TMP/b.log") + 1))
kill -9 "$(redis-cli -p "$AT" INFO server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')"
# each copy stops following (a failure or a gap) and loads again
copy_again() {
    tail -n +"$2" "$PM_TMP/$1.log" |
        grep -A 100 -E "suppression copy: .*(loading it again|until it is loaded again)" |
        grep -q "suppression copy: loaded"
}
for _ in $(seq 1 400); do
    copy_again a "$LOG_AT" && copy_again b "$LOG_BT" && break
    sleep 0.1
done
copy_again a "$LOG_AT" || pm_fail "daemon a's copy did not load again: $(tail -n +"$LOG_AT" "$PM_TMP/a.log" | grep -v stage=)"
copy_again b "$LOG_BT" || pm_fail "daemon b's copy did not load again: $(tail -n +"$LOG_BT" "$PM_TMP/b.log" | grep -v stage=)"
copy_is a 3
copy_is b 3
# an entry added after the promotion, for the company of each primary
for i in 0 1 2; do
    ctl suppress add "late$i@example.org" --domain "${D[$i]}" --days 30
done
copy_is a 6
copy_is b 6
for d in a b; do
    for i in 0 1 2; do
        refuses $d "${D[$i]}" "late$i@example.org"
    done
    refuses $d "${D[1]}" bob@example.org
    accepts $d "${D[0]}" gone0@example.org
done
pm_assert_eq 6 "$(listed | wc -l)" "suppress list after the promotion"
for d in a b; do
    kill -0 "${PID[$d]}" 2>/dev/null || pm_fail "daemon $d died"
done
for d in a b; do pm_stop_clean "${PID[$d]}" "daemon $d"; done
echo "PASS: cluster_suplocal.sh"
exit 0
