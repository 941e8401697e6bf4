#!/bin/bash
# incident_ctl.sh - postmeterctl incident against a real Redis, a running
# postmeter (its metrics refresher) and a real private Postfix with smtp-sink:
#   (a) open, show, list and release print exactly what the store holds, as
#       text and as --json; opening twice is refused (exit 1) and --force
#       replaces; a release or show of a sender not in incident exits 3; bad
#       usage exits 2;
#   (b) --hours: the incident ends by itself at its time (the store's test
#       clock) and the list drops its stale index entry;
#   (c) postmeter's gauge postmeter_senders_in_incident follows the store;
#   (d) release --requeue: mallory's messages, held on the private Postfix by
#       a check_sender_access HOLD rule, reach the sink, exactly those, while
#       eve's and trudy's held messages stay held; run again (the next mail
#       server), it finds no incident and no held mail and says so;
#   (e) release --drop deletes exactly eve's held messages; trudy's stays.
#
# SPDX-License-Identifier: BSD-2-Clause

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

CTL=$top_builddir/postmeterctl
pm_need "$CTL" "$top_builddir/postmeter" swaks postfix smtp-sink postqueue postsuper postconf \
    curl python3
unset SUDO_USER # the incident's "by" names the user running postmeterctl
ME=$(id -un)

pm_redis_start
MPORT=$(pm_free_port)
pm_write_conf "$PM_TMP/postmeter.conf" <<EOF
plans: {
  default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0; warmup = []; };
};
metrics: { listen = "127.0.0.1:$MPORT"; top_senders = 0; refresh_seconds = 5; };
EOF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_wait_port "$MPORT" || pm_fail "the metrics endpoint is not listening on $MPORT"

# Run postmeterctl; its stdout in $OUT, its stderr in $ERR, its status in $RC.
ctl() {
    RC=0
    "$CTL" -c "$PM_TMP/postmeter.conf" "$@" >"$PM_TMP/out" 2>"$PM_TMP/err" || RC=$?
    OUT=$(cat "$PM_TMP/out")
    ERR=$(cat "$PM_TMP/err")
}

# "YYYY-MM-DD HH:MM UTC" of store time $1.
utc() { date -u -d "@$1" '+%F %H:%M UTC'; }

# Wait (about 15 s) until the gauge shows $1.
gauge_wait() {
    local v=
    for _ in $(seq 1 150); do
        v=$(curl -s -m 2 "http://127.0.0.1:$MPORT/metrics" | sed -n 's/^postmeter_senders_in_incident //p')
        [ "$v" = "$1" ] && return 0
        sleep 0.1
    done
    pm_fail "postmeter_senders_in_incident is '$v', not $1"
}

# --- (a) open, show, list, release --------------------------------------------------
ctl incident list
pm_assert_eq "0 no sender in incident" "$RC $OUT" "list with no incident"
ctl --json incident list
case $OUT in '{"now":'*',"total":0,"incidents":[]}') ;; *) pm_fail "empty list as JSON: $OUT" ;; esac

ctl incident open Mallory@Example.ORG --note "password stolen, reported by phone"
pm_assert_eq 0 "$RC" "open: status ($ERR)"
ctl --json incident show mallory@example.org
AT=$(sed -n 's/.*"at":\([0-9]*\),.*/\1/p' <<<"$OUT")
[ -n "$AT" ] || pm_fail "no at in $OUT"
pm_assert_eq "{\"sender\":\"mallory@example.org\",\"at\":$AT,\"signal\":\"admin\",\"figures\":\"\",\"by\":\"admin:$ME\",\"note\":\"password stolen, reported by phone\",\"until\":0,\"held\":0,\"ids\":[]}" \
    "$OUT" "show --json"
ctl incident open mallory@example.org # once more: refused, kept
pm_assert_eq "1" "$RC" "open twice: status"
pm_assert_eq "postmeterctl: mallory@example.org is in incident already (since $(utc "$AT"), signal admin, by admin:$ME): kept; add --force to replace it" \
    "$ERR" "open twice: message"
ctl --json incident open mallory@example.org
pm_assert_eq "1 " "$RC $OUT" "open twice with --json: status, nothing on standard output"
ctl incident show mallory@example.org
pm_assert_eq "mallory@example.org: in incident since $(utc "$AT")
  signal:  admin (opened by admin:$ME)
  note:    password stolen, reported by phone
  ends:    when released
  held:    0 messages
  review:  postqueue -p (the hold queue: lines with '!'), postcat -q ID, on each mail server
  release: postmeterctl incident release mallory@example.org --requeue   (the mail was legitimate)
           postmeterctl incident release mallory@example.org --drop      (it was spam)" \
    "$OUT" "show: the note is still the first one"

pm_clock_set 60 >/dev/null # carol's incident opens a minute later
ctl --json incident open carol@example.org --hours 2
CAT=$(sed -n 's/.*"at":\([0-9]*\),.*/\1/p' <<<"$OUT")
pm_assert_eq "0 {\"opened\":true,\"incident\":{\"sender\":\"carol@example.org\",\"at\":$CAT,\"signal\":\"admin\",\"figures\":\"\",\"by\":\"admin:$ME\",\"note\":\"\",\"until\":$((CAT + 7200)),\"held\":0,\"ids\":[]}}" \
    "$RC $OUT" "open --hours 2 --json"
ctl incident list
pm_assert_eq "2 senders in incident (latest first)
SENDER                           SINCE                 SIGNAL                 HELD  BY
carol@example.org                $(utc "$CAT")  admin                     0  admin:$ME
mallory@example.org              $(utc "$AT")  admin                     0  admin:$ME" \
    "$OUT" "list"

# --- (c) the gauge ----------------------------------------------------------------------
gauge_wait 2

ctl incident open mallory@example.org --force --note "replaced"
pm_assert_eq "0" "$RC" "open --force: status"
ctl --json incident show mallory@example.org
case $OUT in *'"note":"replaced"'*) ;; *) pm_fail "open --force did not replace: $OUT" ;; esac
AT=$(sed -n 's/.*"at":\([0-9]*\),.*/\1/p' <<<"$OUT") # the new incident's

# usage errors: exit 2, nothing written
for args in "incident" "incident frob" "incident show" "incident list x" \
    "incident open x@example.org --hours 0" "incident open x@example.org --hours 8761" \
    "incident release x@example.org --requeue --drop" "incident show x@example.org --force" \
    "incident open x@example.org --config-dir /tmp" "incident show <>"; do
    # shellcheck disable=SC2086
    ctl $args
    pm_assert_eq 2 "$RC" "exit status of '$args' ($ERR)"
done
pm_assert_eq 0 "$(pm_rcli EXISTS "$(pm_key "x@example.org" inc)")" "an incident after the usage errors"
ctl incident open x@example.org --note "$(printf 'a\tb')"
pm_assert_eq "2 postmeterctl: incident open: the note holds a control character" "$RC $ERR" "a tab in the note"
ctl incident show x@example.org
pm_assert_eq "3 postmeterctl: x@example.org is not in incident" "$RC $ERR" "show of a sender not in incident"
ctl incident release x@example.org
pm_assert_eq "3 postmeterctl: x@example.org is not in incident" "$RC $ERR" "release of a sender not in incident"

# --- (b) --hours: it ends by itself ------------------------------------------------------
# the test clock's offset that makes store time $1 (Redis's own clock: TIME)
offset_for() { echo $(($1 - $(pm_rcli TIME | head -n 1))); }
pm_clock_set "$(offset_for $((CAT + 7200 - 2)))" >/dev/null
ctl incident show carol@example.org
pm_assert_eq 0 "$RC" "carol two seconds before her incident ends"
pm_clock_set "$(offset_for $((CAT + 7200)))" >/dev/null
ctl incident list
pm_assert_eq "1 sender in incident (latest first)
SENDER                           SINCE                 SIGNAL                 HELD  BY
mallory@example.org              $(utc "$AT")  admin                     0  admin:$ME" \
    "$OUT" "list once carol's incident ended"
pm_assert_eq 1 "$(pm_rcli ZCARD "$(pm_key company example.org incidents)")" "index entries after the list dropped carol's"
pm_assert_eq 0 "$(pm_rcli EXISTS "$(pm_key "carol@example.org" inc)")" "carol's incident hash"
ctl incident show carol@example.org
pm_assert_eq 3 "$RC" "show carol after her incident ended"
gauge_wait 1
pm_clock_del

# --- (d) held mail on a real Postfix: release --requeue ------------------------------------
pm_sink_start
pm_postfix_start ""
PF=(-c "$PM_PF_DIR/etc")
printf '/^(mallory|eve|trudy)@example\\.org$/ HOLD incident test\n' >"$PM_PF_DIR/etc/hold_senders"
postconf "${PF[@]}" -e "smtpd_sender_restrictions = check_sender_access regexp:$PM_PF_DIR/etc/hold_senders" ||
    pm_fail "postconf -e failed"
postfix "${PF[@]}" reload >/dev/null 2>&1 || pm_fail "postfix reload failed"
pm_wait_grep "reload -- version" "$PM_PF_DIR/maillog" || pm_fail "Postfix did not log its reload"

# Send one message as $1 with subject $2; print its queue id.
send() {
    local reply
    reply=$(pm_swaks_send "$1" "rcpt@example.net" --h-Subject "$2")
    case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "$1's message '$2': $reply" ;; esac
    echo "${reply##* }"
}
# The held queue ids of sender $1 (postqueue -j), sorted, on one line.
held_of() {
    pm_postfix_queue | awk -v s="$1" '$2 == "hold" && $3 == s { print $1 }' | paste -sd' ' -
}
# The subjects in the sink, sorted, comma-separated.
sink_subjects() {
    cat "$PM_SINK_DIR"/* 2>/dev/null | sed -n 's/^Subject: //p' | sort | paste -sd, -
}

send bob@example.org "bob 1" >/dev/null
pm_sink_expect 1 "bob's message, never held"
M1=$(send mallory@example.org "mallory 1")
M2=$(send mallory@example.org "mallory 2")
E1=$(send eve@example.org "eve 1")
E2=$(send eve@example.org "eve 2")
T1=$(send trudy@example.org "trudy 1")
MALLORY=$(printf '%s\n' "$M1" "$M2" | sort | paste -sd' ' -)
EVE=$(printf '%s\n' "$E1" "$E2" | sort | paste -sd' ' -)
for q in $M1 $M2 $E1 $E2 $T1; do
    pm_postfix_wait_hold "$q"
done
pm_assert_eq "$MALLORY" "$(held_of mallory@example.org)" "mallory's held messages"
pm_assert_eq "$EVE" "$(held_of eve@example.org)" "eve's held messages"
pm_assert_eq "$T1" "$(held_of trudy@example.org)" "trudy's held message"
pm_sink_expect 1 "the sink while the others are held"

ctl incident release mallory@example.org --requeue --config-dir "$PM_PF_DIR/etc"
pm_assert_eq "0 released: mallory@example.org: in incident since $(utc "$AT")
  signal:  admin (opened by admin:$ME)
  note:    replaced
  ends:    when released
  held:    0 messages
its outgoing mail goes out again on every server
requeued 2 held messages of mallory@example.org on this server: $MALLORY
held mail lives on each mail server: run the same command on each of them" \
    "$RC $OUT" "release --requeue"
pm_sink_expect 3 "the sink after mallory's release"
pm_assert_eq "bob 1,mallory 1,mallory 2" "$(sink_subjects)" "the messages in the sink"
pm_assert_eq "" "$(held_of mallory@example.org)" "mallory's held messages after the release"
pm_assert_eq "$EVE" "$(held_of eve@example.org)" "eve's held messages after mallory's release"
pm_assert_eq "$T1" "$(held_of trudy@example.org)" "trudy's after mallory's release"
ctl incident show mallory@example.org
pm_assert_eq 3 "$RC" "mallory after the release"
gauge_wait 0

# the same command on the next mail server: nothing left here
ctl incident release mallory@example.org --requeue --config-dir "$PM_PF_DIR/etc"
pm_assert_eq "0 mallory@example.org was not in incident (released already?)
no held message of mallory@example.org on this server
held mail lives on each mail server: run the same command on each of them" \
    "$RC $OUT" "release --requeue run again"

# --- (e) release --drop -------------------------------------------------------------------
ctl incident open eve@example.org
ctl --json incident release eve@example.org --drop --config-dir "$PM_PF_DIR/etc"
EAT=$(sed -n 's/.*"at":\([0-9]*\),.*/\1/p' <<<"$OUT")
pm_assert_eq "0 {\"sender\":\"eve@example.org\",\"released\":true,\"incident\":{\"sender\":\"eve@example.org\",\"at\":$EAT,\"signal\":\"admin\",\"figures\":\"\",\"by\":\"admin:$ME\",\"note\":\"\",\"until\":0,\"held\":0,\"ids\":[]},\"queue\":{\"action\":\"deleted\",\"messages\":2,\"ids\":[\"${EVE% *}\",\"${EVE#* }\"]}}" \
    "$RC $OUT" "release --drop --json"
pm_assert_eq "" "$(held_of eve@example.org)" "eve's held messages after --drop"
pm_assert_eq "$T1" "$(held_of trudy@example.org)" "trudy's after eve's drop"
postqueue "${PF[@]}" -j | grep -q "\"queue_id\": *\"$E1\"" && pm_fail "eve's $E1 is still queued"
pm_sink_expect 3 "the sink after eve's drop"
pm_assert_eq "bob 1,mallory 1,mallory 2" "$(sink_subjects)" "the messages in the sink at the end"

# a Postfix that cannot be asked: the release is done, the queue step fails (exit 1)
ctl incident open trudy@example.org
ctl incident release trudy@example.org --drop --config-dir "$PM_TMP/nowhere"
pm_assert_eq 1 "$RC" "release --drop with a bad Postfix directory"
case $ERR in *"postmeterctl: cannot list the held mail of trudy@example.org: postqueue -j failed"*"postmeterctl: trudy@example.org: its incident was released on every server; run the command again once Postfix answers") ;;
*) pm_fail "the error of a bad Postfix directory: $ERR" ;; esac
pm_assert_eq "$T1" "$(held_of trudy@example.org)" "trudy's held message after the failed drop"
ctl incident list
pm_assert_eq "0 no sender in incident" "$RC $OUT" "list at the end"

pm_stop_clean "$PM_POSTMETER_PID" postmeter
echo "PASS: incident_ctl.sh"
exit 0
