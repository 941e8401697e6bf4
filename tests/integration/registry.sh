#!/bin/bash
# registry.sh - the company registry "<prefix>:v2:{@}:co" against a real
# Redis and two running postmeter daemons.
#
# Mail from senders of two companies through two daemons puts exactly those
# two companies in the registry: each daemon announces its company once, in
# one call of its own about a second after the first message (MONITOR: two
# announcements in all), and more mail the same store day (another sender
# of a company the daemon announced) announces nothing
# more; top lists their senders with exact counts. A metrics refresh reads
# the registry and scans nothing (MONITOR). An administrator's incident open
# for a company that sent nothing puts it in the registry and incident list
# shows it. On the next store day (test clock) a company's next message
# announces it again, the other keeps its old time, and top (which reads
# yesterday's index too) still lists both. After forget --all, a daemon's
# heartbeat finds the registry gone and its companies' next message
# announces them again.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE" curl
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
unset SUDO_USER
CO=$(pm_key global co)
MPORT=$(pm_free_port)

# Start daemon $1; extra configuration text $2.
start_pm() {
    PM_MILTER_SOCKET="unix:$PM_TMP/$1.sock" pm_write_conf "$PM_TMP/$1.conf" <<EOF
contacts: { secret_file = "$PM_TMP/contacts.key"; };
plans: {
  default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
};
$2
EOF
    "$PM" -c "$PM_TMP/$1.conf" -f 2>"$PM_TMP/$1.log" &
    pm_on_exit "kill $!"
    pm_wait_file "$PM_TMP/$1.sock" || pm_fail "postmeter $1 did not start: $(cat "$PM_TMP/$1.log")"
}

# postmeterctl with daemon a's configuration.
ctl() {
    "$CTL" -c "$PM_TMP/a.conf" "$@"
}

# Send $3 messages from $2 through daemon $1; print accepted.
send() {
    "$DRIVE" -S "unix:$PM_TMP/$1.sock" -c 1 -m "$3" -f "$2" -r friend@example.org \
        >"$PM_TMP/send.out" 2>&1 || pm_fail "pmdrive failed: $(cat "$PM_TMP/send.out")"
    pm_summary "$PM_TMP/send.out" accepted
}

# The commands MONITOR saw from line $1 on (clients, not the scripts' own).
seen_from() {
    tail -n +"$1" "$PM_TMP/monitor.txt" | awk '/^[0-9]/ && $3 != "lua]"'
}

# The calls of registry.lua with op $2 ("add": an announcement, "list") that
# MONITOR saw from line $1 on (the key, the clock and layout argument, the op).
registry_calls() {
    seen_from "$1" | grep -F "\"$CO\" " | grep -cE ":layout\" \"$2\" " | tr -d '\n'
    return 0
}

# How many announcements MONITOR saw: calls of "add" naming at least one
# company after since, keep and max (not the heartbeat's check, which names
# none and comes once a minute).
announcements() {
    seen_from 1 | grep -F "\"$CO\" " | grep -cE ':layout" "add" "[^"]*" "[^"]*" "[^"]*" "' |
        tr -d '\n'
    return 0
}

pm_rcli MONITOR >"$PM_TMP/monitor.txt" 2>/dev/null &
pm_on_exit "kill $!"
pm_wait_grep '^OK' "$PM_TMP/monitor.txt" || pm_fail "MONITOR did not start"
start_pm a "metrics: { listen = \"127.0.0.1:$MPORT\"; top_senders = 5; refresh_seconds = 5; };"
start_pm b ""
pm_wait_port "$MPORT" || pm_fail "the metrics endpoint is not listening on $MPORT"

# --- two companies, two daemons: exactly those two, one announcement each --------
pm_assert_eq 3 "$(send a alice@alpha.example 3)" "alice's mail"
pm_assert_eq 2 "$(send b bob@beta.example 2)" "bob's mail"
pm_wait_registry alpha.example || pm_fail "alpha.example not announced: $(pm_rcli ZRANGE "$CO" 0 -1)"
pm_wait_registry beta.example || pm_fail "beta.example not announced: $(pm_rcli ZRANGE "$CO" 0 -1)"
# (and, lowest, "@<store time it was made>": no company holds "@")
pm_assert_eq "alpha.example
beta.example" "$(pm_rcli ZRANGE "$CO" 1 -1 | sort)" "the registry after mail of two companies"
BORN=$(pm_rcli ZRANGE "$CO" 0 0)
[[ $BORN =~ ^@[0-9]+$ ]] || pm_fail "the registry's first member: $BORN"
pm_assert_eq 3 "$(pm_rcli ZCARD "$CO")" "the registry's members"
# every key has a TTL: the registry's is 9 days, renewed by each announcement
TTL=$(pm_rcli TTL "$CO")
[ "$TTL" -gt $((9 * 86400 - 600)) ] && [ "$TTL" -le $((9 * 86400)) ] ||
    pm_fail "the registry's TTL: $TTL, not 9 days"
pm_assert_eq 2 "$(announcements)" "announcements of two companies by two daemons"
# the same store day: more mail, another sender of a known company, nothing more
pm_assert_eq 4 "$(send a alice@alpha.example 4)" "alice's mail again"
pm_assert_eq 4 "$(send b bob@beta.example 4)" "bob's mail again"
pm_assert_eq 1 "$(send a carol@alpha.example 1)" "carol's mail"
sleep 2 # past the announcement's delay (1 s): nothing may come
pm_assert_eq 2 "$(announcements)" "announcements after more mail the same day"
json=$(ctl --json top -n 5) || pm_fail "top failed"
grep -q '"senders":\[{"rank":1,"sender":"alice@alpha.example","plan":"default","used":7,[^]]*{"rank":2,"sender":"bob@beta.example","plan":"default","used":6,[^]]*{"rank":3,"sender":"carol@alpha.example","plan":"default","used":1,[^]]*\]}$' \
    <<<"$json" || pm_fail "top: $json"

# --- a metrics refresh reads the registry and scans nothing ---------------------
# (the refresher runs every 5 s: the first refresh that starts after this point)
from=$(($(wc -l <"$PM_TMP/monitor.txt") + 1))
for _ in $(seq 1 100); do
    [ "$(registry_calls "$from" list)" -gt 0 ] && break
    sleep 0.1
done
[ "$(registry_calls "$from" list)" -gt 0 ] || pm_fail "no refresh read the registry"
for _ in $(seq 1 50); do
    curl -s -m 5 "http://127.0.0.1:$MPORT/metrics" >"$PM_TMP/scrape.txt" || true
    grep -q '^postmeter_sender_used{sender="carol@alpha.example",window="day",counter="messages"} 1$' \
        "$PM_TMP/scrape.txt" && break
    sleep 0.1
done
grep -q '^postmeter_sender_used{sender="alice@alpha.example",window="day",counter="messages"} 7$' \
    "$PM_TMP/scrape.txt" || pm_fail "no refreshed gauge: $(grep sender_used "$PM_TMP/scrape.txt" | head -n 3)"
seen_from "$from" >"$PM_TMP/refresh.txt"
# one refresh: the incident gauge (every company) and the top (today's)
pm_assert_eq 2 "$(registry_calls "$from" list)" "registry reads of one refresh"
pm_assert_eq 0 "$(awk 'tolower($4) == "\"scan\""' "$PM_TMP/refresh.txt" | wc -l)" "SCAN calls of a refresh"

# --- an administrator's incident for a company that sent nothing -----------------
ctl incident open dan@gamma.example --note "reported by phone" >/dev/null || pm_fail "incident open"
[ -n "$(pm_rcli ZSCORE "$CO" gamma.example)" ] || pm_fail "incident open did not announce gamma.example"
json=$(ctl --json incident list) || pm_fail "incident list failed"
grep -q '"total":1,"incidents":\[{"sender":"dan@gamma.example",' <<<"$json" ||
    pm_fail "incident list: $json"

# --- the next store day: a company's next message announces it again -------------
REAL=$(pm_rcli TIME | head -n 1)
NEXT=$(((REAL / 86400 + 1) * 86400))
BETA=$(pm_rcli ZSCORE "$CO" beta.example)
pm_clock_set $((NEXT + 3600 - REAL)) EX 3600
pm_assert_eq 1 "$(send a alice@alpha.example 1)" "alice's mail the next day"
pm_wait_registry alpha.example "$NEXT" || pm_fail "alpha.example not announced the next day"
pm_assert_eq "$BETA" "$(pm_rcli ZSCORE "$CO" beta.example)" "beta.example's time, no mail the next day"
pm_assert_eq 4 "$(announcements)" "announcements after the next day's first message (and the incident)"
# top by day reads yesterday's index too (the rolling 24 hours): the
# companies announced yesterday are read, beta.example's bob with them
json=$(ctl --json top -n 5) || pm_fail "top failed"
grep -q '"senders":\[{"rank":1,"sender":"alice@alpha.example","plan":"default","used":8,[^]]*{"rank":2,"sender":"bob@beta.example","plan":"default","used":6,[^]]*{"rank":3,"sender":"carol@alpha.example","plan":"default","used":1,[^]]*\]}$' \
    <<<"$json" || pm_fail "top the next day: $json"
pm_clock_del

# --- forget --all: the registry made anew is filled again within a heartbeat --------
pm_assert_eq 1 "$(send a alice@alpha.example 1)" "alice's mail, today again"
for _ in $(seq 1 50); do # announced again today (its time was the next day's)
    (($(pm_rcli ZSCORE "$CO" alpha.example | cut -d. -f1) < NEXT)) && break
    sleep 0.1
done
(($(pm_rcli ZSCORE "$CO" alpha.example | cut -d. -f1) < NEXT)) || pm_fail "alpha.example not announced today"
ctl forget --all --yes >/dev/null || pm_fail "forget --all"
from=$(($(wc -l <"$PM_TMP/monitor.txt") + 1))
pm_assert_eq 1 "$(send a alice@alpha.example 1)" "alice's mail after forget --all"
sleep 2 # past the announcement's delay: alpha.example was announced today, as the daemon knows
pm_assert_eq "" "$(pm_rcli ZSCORE "$CO" alpha.example)" "alpha.example before a heartbeat looked"
# each daemon looks at the registry with its heartbeat (every 60 s): made anew or gone, it
# forgets what it announced
for _ in $(seq 1 700); do
    (($(seen_from "$from" | grep -F "\"$CO\" " | grep -cE ':layout" "add" "" "[0-9]+" "[0-9]+"$') >= 2)) && break
    sleep 0.1
done
pm_assert_eq 1 "$(send a alice@alpha.example 1)" "alice's mail after the heartbeats"
pm_wait_registry alpha.example || pm_fail "alpha.example not announced again after forget --all"
echo "PASS: registry"
