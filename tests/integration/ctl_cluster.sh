#!/bin/bash
# ctl_cluster.sh - postmeterctl on a Redis Cluster (3 primaries, 3 replicas on
# loopback) with one postmeter daemon, senders of companies on each primary:
#   (a) per sender, routed by its company's slot: contact check follows the
#       milter's contact memory; plan set and clear change what the milter
#       allows at the next message; credit add lets exactly N more through
#       and credit show and status say so; warm-up reset and skip (the store's
#       test clock in {@}) change what the milter allows;
#   (b) merged over the primaries: top lists every sender with its exact
#       count; servers lists the daemon; the day's digest (noticecli, the
#       notifier's own code, sent by a sendmail stand-in) has exactly the
#       refusals of the companies of two primaries; incident list shows the
#       administrator's incidents of senders of the three companies, latest
#       first, exactly, and a release leaves the other two.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
NOTICE=$top_builddir/tests/tools/noticecli
pm_need "$top_builddir/postmeter" "$CTL" "$DRIVE" "$NOTICE" redis-server redis-cli
PM_FAIL_LOGS="$PM_TMP/a.log"
unset SUDO_USER # an incident's "by" names the user running postmeterctl
ME=$(id -un)

pm_cluster_start 3 1
pm_secret_file "$PM_TMP/contacts.key"

# The ports of the primaries, and a company (domain) on each.
pm_cluster_primaries 3
pm_cluster_domains pmtest
D=("${DOMAINS[@]}")
echo "companies ${D[*]} on primaries ${PRIMARIES[*]}"

export PM_REDIS_EXTRA="cluster = [ \"127.0.0.1:${PM_CLUSTER_PORTS[0]}\", \"127.0.0.1:${PM_CLUSTER_PORTS[1]}\" ];"
# postmeterctl changes what the store says and the store's clock jumps: the
# daemon asks the store for every recipient.
pm_milter_start a <<CONF
login_domain = "example.com";
local_domains = [ "${D[0]}", "${D[1]}", "${D[2]}" ];
warmup: { hourly_share = 1.0; };
rcpt_check: { fresh_seconds = 0; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
plans: {
  default: { messages_per_hour = 0; messages_per_day = 4; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
  big: { messages_per_hour = 0; messages_per_day = 8; recipients_per_day = 0;
         new_recipients_per_day = 0; warmup = []; };
  warm: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
          new_recipients_per_day = 0; warmup = [3, 5, 8]; };
};
assign = ( { sender = "w-new@${D[0]}"; plan = "warm"; } );
rules = ( );
CONF
PID=$PM_LAST_PID

ctl() {
    "$CTL" -c "$PM_TMP/a.conf" "$@"
}
# Expect exit status $1 from postmeterctl with the remaining arguments; the
# output (stdout and stderr) is left in $PM_TMP/ctl.out.
expect_rc() {
    local want=$1 got=0
    shift
    ctl "$@" >"$PM_TMP/ctl.out" 2>&1 || got=$?
    [ "$got" = "$want" ] ||
        pm_fail "postmeterctl $* exited $got, expected $want: $(cat "$PM_TMP/ctl.out")"
}
# Send $2 messages from $1 (one connection) to $3 (friend@example.org); print accepted.
send() {
    "$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m "$2" -f "$1" -r "${3:-friend@example.org}" \
        >"$PM_TMP/send.out" 2>&1 || pm_fail "pmdrive failed: $(cat "$PM_TMP/send.out")"
    pm_summary "$PM_TMP/send.out" accepted
}
# The usage figure "used" of counter $2 in status JSON $1.
jused() {
    grep -o "\"$2\":{\"used\":[0-9]*" <<<"$1" | head -n 1 | sed 's/.*://'
}
# Set the store's test clock offset ({@}) to $1 seconds.
clock_set() {
    pm_ccli SET "$(pm_key global clock)" "$1" >/dev/null
}
# Wait (bounded: 5 s) until the company registry holds company $1.
wait_registry() {
    for _ in $(seq 1 50); do
        [ -n "$(pm_ccli ZSCORE "$(pm_key global co)" "$1")" ] && return 0
        sleep 0.1
    done
    pm_fail "$1 not in the company registry"
}
REAL=$(pm_ccli TIME | head -n 1)
TODAY=$((REAL / 86400))

# --- (a) contacts, of companies on two primaries --------------------------------------------
for i in 0 1; do
    expect_rc 0 --json contact check "dave@${D[$i]}" Erin+News@Example.ORG
    grep -q '"state":"cold","known":false' "$PM_TMP/ctl.out" || pm_fail "cold before: $(cat "$PM_TMP/ctl.out")"
    pm_assert_eq 1 "$(send "dave@${D[$i]}" 1 erin@example.org)" "dave@${D[$i]} to erin"
    expect_rc 0 contact check "Dave@${D[$i]}" erin+x@example.org
    grep -q "dave@${D[$i]} -> erin@example.org: known" "$PM_TMP/ctl.out" ||
        pm_fail "known after: $(cat "$PM_TMP/ctl.out")"
    expect_rc 0 contact check "dave@${D[$i]}" "colleague@${D[$i]}"
    grep -q 'internal recipient' "$PM_TMP/ctl.out" || pm_fail "internal recipient: $(cat "$PM_TMP/ctl.out")"
done
# the contact is the sender's, not the company's neighbour's
expect_rc 0 --json contact check "dave@${D[2]}" erin@example.org
grep -q '"state":"cold","known":false' "$PM_TMP/ctl.out" || pm_fail "dave@${D[2]}: $(cat "$PM_TMP/ctl.out")"

# --- plan set and clear, on the second primary ---------------------------------------------
P=pete@${D[1]}
pm_assert_eq 4 "$(send "$P" 5)" "$P on the default plan"
expect_rc 0 plan set "$P" big
pm_assert_eq 4 "$(send "$P" 5)" "$P on the override (8 a day)"
json=$(ctl --json status "$P") || pm_fail "status $P: $json"
grep -q '"plan":"big","plan_from":"override"' <<<"$json" || pm_fail "status: override: $json"
grep -q '"messages_per_day":{"used":8,"limit":8}' <<<"$json" || pm_fail "status: $P's day: $json"
expect_rc 0 plan clear "$P"
pm_assert_eq "cleared: $P: plan default (default)" "$(cat "$PM_TMP/ctl.out")" "plan clear text"
pm_assert_eq 0 "$(send "$P" 1)" "$P back on the default plan"

# --- credits, on the third primary -----------------------------------------------------------
S=sally@${D[2]}
pm_assert_eq 4 "$(send "$S" 5)" "$S up to the limit"
expect_rc 0 credit add "$S" 2
grep -q "granted #1 to $S: 2 messages, 0 recipients; expires never" "$PM_TMP/ctl.out" ||
    pm_fail "credit add text: $(cat "$PM_TMP/ctl.out")"
pm_assert_eq 2 "$(send "$S" 3)" "$S with a credit of 2"
json=$(ctl --json credit show "$S") || pm_fail "credit show: $json"
grep -q '"messages":0,"recipients":0,"grants":\[{"id":1,"messages_left":0,"recipients_left":0,"messages_granted":2,' \
    <<<"$json" || pm_fail "credit show: $json"
pm_assert_eq 2 "$(grep -o '"event":"spend","messages":1,"recipients":0' <<<"$json" | wc -l)" "spends logged"
json=$(ctl --json status "$S")
pm_assert_eq 6 "$(jused "$json" messages_per_day)" "status of $S: messages in the day (4 + 2)"

# --- (b) top merges the primaries, servers lists the daemon --------------------------------
for c in "${D[@]}"; do wait_registry "$c"; done
json=$(ctl --json top -n 10) || pm_fail "top: $json"
# (equal counts rank by sender)
daves=$(printf '%s\n' "dave@${D[0]}" "dave@${D[1]}" | sort | awk '{ print NR + 2, $1, 1 }')
pm_assert_eq "1 $P 8
2 $S 6
$daves" "$(grep -o '"rank":[0-9]*,"sender":"[^"]*","plan":"[^"]*","used":[0-9]*' <<<"$json" |
    sed 's/"rank":\([0-9]*\),"sender":"\([^"]*\)","plan":"[^"]*","used":\([0-9]*\)/\1 \2 \3/')" \
    "top over the primaries: rank, sender, messages today"
json=$(ctl --json servers) || pm_fail "servers: $json"
pm_assert_eq 1 "$(grep -o '{"host":' <<<"$json" | wc -l)" "servers: daemons listed ($json)"
grep -q "\"pid\":${PID}[,}]" <<<"$json" || pm_fail "servers: not the daemon $PID: $json"

# --- the day's digest: the refusals of pete (1 + 1 + 1) and sally (1 + 1), of two primaries
if grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status; then
    pm_fail "no_new_privs is set: the notifier would not use the sendmail stand-in"
fi
cat >"$PM_TMP/sendmail" <<EOF
#!/bin/sh
cat >"$PM_TMP/digest.eml"
EOF
chmod 755 "$PM_TMP/sendmail"
{
    echo 'timezone = "UTC";'
    echo 'login_domain = "example.com";'
    echo "notify = { admin = [ \"postmaster@example.net\" ]; sendmail = \"$PM_TMP/sendmail\"; };"
} | pm_write_conf "$PM_TMP/notify.conf"
"$NOTICE" -c "$PM_TMP/notify.conf" digest "$TODAY" >"$PM_TMP/digest.out" 2>"$PM_TMP/digest.log" ||
    pm_fail "noticecli digest failed: $(cat "$PM_TMP/digest.out" "$PM_TMP/digest.log")"
grep -q "digest of day $TODAY sent to 1 address: 2 rows" "$PM_TMP/digest.log" "$PM_TMP/digest.out" ||
    pm_fail "digest: $(cat "$PM_TMP/digest.out" "$PM_TMP/digest.log")"
date=$(date -u -d "@$((TODAY * 86400))" +%F)
printf "%s\n" "$(sed '1,/^$/d' "$PM_TMP/digest.eml")" >"$PM_TMP/digest.body"
cat >"$PM_TMP/digest.want" <<EOF
Refusals on $date (UTC), by sender and limit: 5, 2 senders and limits.

sender                                   limit                     refusals
$(printf '%-40s %-24s %9d' "$P" messages_per_day 3)
$(printf '%-40s %-24s %9d' "$S" messages_per_day 2)

See a sender's use of its limits with: postmeterctl status SENDER
EOF
diff -u "$PM_TMP/digest.want" "$PM_TMP/digest.body" >&2 || pm_fail "the digest's text differs"

# --- warm-up reset and skip, on a simulated day (hours apart) ------------------------------
W=w-new@${D[0]}
DAY=$((TODAY + 5))
# Shift the store's clock to $1 (HH:MM) of the simulated day.
at() {
    clock_set $((DAY * 86400 + 10#${1%:*} * 3600 + 10#${1#*:} * 60 - REAL))
}
at 12:00
pm_assert_eq 3 "$(send "$W" 5)" "warm-up day 1"
json=$(ctl --json status "$W")
grep -q '"plan":"warm","plan_from":"config rule"' <<<"$json" || pm_fail "status: rule plan: $json"
grep -q '"warmup":{"state":"warming_up","stage":0,"stages":3,"day_cap":3,"hour_cap":3,"today":3,' \
    <<<"$json" || pm_fail "status: warm-up: $json"
expect_rc 0 warmup skip "$W" --to-stage 2
at 13:05
pm_assert_eq 8 "$(send "$W" 10)" "after warmup skip --to-stage 2"
expect_rc 0 warmup reset "$W"
at 14:10
pm_assert_eq 3 "$(send "$W" 5)" "after warmup reset"
expect_rc 0 warmup skip "$W"
at 15:15
pm_assert_eq 10 "$(send "$W" 10)" "after warmup skip to the end"
json=$(ctl --json status "$W")
grep -q '"warmup":{"state":"over"' <<<"$json" || pm_fail "status: warm-up over: $json"

# --- incidents of senders of the three companies, a minute apart ---------------------------
# "YYYY-MM-DD HH:MM UTC" of store time $1.
utc() { date -u -d "@$1" '+%F %H:%M UTC'; }
declare -A AT
for i in 0 1 2; do
    at "16:0$i"
    expect_rc 0 --json incident open "x$i@${D[$i]}" --note "case $i"
    AT[$i]=$(sed -n 's/.*"at":\([0-9]*\),.*/\1/p' "$PM_TMP/ctl.out")
    [ -n "${AT[$i]}" ] || pm_fail "no at in $(cat "$PM_TMP/ctl.out")"
done
# Print the line of incident list for incident $1.
line() { printf '%-32s %s  %-20s %6d  %s\n' "x$1@${D[$1]}" "$(utc "${AT[$1]}")" admin 0 "admin:$ME"; }
expect_rc 0 incident list
pm_assert_eq "3 senders in incident (latest first)
SENDER                           SINCE                 SIGNAL                 HELD  BY
$(line 2)
$(line 1)
$(line 0)" "$(cat "$PM_TMP/ctl.out")" "incident list over the primaries"
expect_rc 0 --json incident list
grep -q '^{"now":[0-9]*,"total":3,"incidents":\[' "$PM_TMP/ctl.out" || pm_fail "incident list --json: $(cat "$PM_TMP/ctl.out")"
expect_rc 0 incident release "x1@${D[1]}"
expect_rc 0 incident list
pm_assert_eq "2 senders in incident (latest first)
SENDER                           SINCE                 SIGNAL                 HELD  BY
$(line 2)
$(line 0)" "$(cat "$PM_TMP/ctl.out")" "incident list after a release"
expect_rc 3 incident release "x1@${D[1]}"

# no call touched a key outside its slot
bad=$(grep -hE "CROSSSLOT|non local key|do not hash to the same slot" "$PM_TMP/a.log" "$PM_TMP/ctl.out" | head -n 3)
pm_assert_eq "" "$bad" "slot errors in the daemon's log"
kill -0 "$PID" 2>/dev/null || pm_fail "postmeter died"
pm_stop_clean "$PID" "postmeter"
echo "PASS: ctl_cluster.sh"
exit 0
