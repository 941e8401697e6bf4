#!/bin/bash
# exact.sh - exactness across servers: three postmeter processes sharing one
# Redis, 324 messages offered at once by 36 concurrent milter sessions for a
# sender limited to 100 messages per hour: exactly 100 pass, every other one
# is tempfailed with the hourly-limit text, and a second sender with its own
# plan is counted on its own; one recipient too many for a recipient limit
# is refused alone with a 452. Then every daemon stops cleanly on SIGTERM.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE"
pm_redis_start

PM_FAIL_LOGS="$PM_TMP/pm*.log" # on failure, the end of each daemon's log first

# Print how many replies in files $1... there are, whatever their text.
replies_all() {
    pm_replies_matching '.' "$@"
}

# Write the config of server $1 (its own socket, the shared Redis and plans).
write_conf() {
    PM_MILTER_SOCKET="unix:$PM_TMP/pm$1.sock" pm_write_conf "$PM_TMP/pm$1.conf" <<'EOF'
on_store_error = "tempfail";
plans: {
  default: { messages_per_hour = 100; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
  small: { messages_per_hour = 20; messages_per_day = 0; recipients_per_day = 0;
           new_recipients_per_day = 0; warmup = []; };
  three: { recipients_per_hour = 3; messages_per_day = 0; recipients_per_day = 0;
           new_recipients_per_day = 0; warmup = []; };
};
assign = ( { sender = "carol@example.com"; plan = "small"; },
           { sender = "rita@example.com"; plan = "three"; } );
EOF
}

for n in 1 2 3; do
    write_conf "$n"
done
pm_start_servers 3

# All the traffic at once: alice (limit 100) and carol (limit 20) on every server.
for n in 1 2 3; do
    "$DRIVE" -S "unix:$PM_TMP/pm$n.sock" -c 12 -m 9 -f alice@example.com \
        >"$PM_TMP/alice$n.out" 2>"$PM_TMP/alice$n.err" &
    "$DRIVE" -S "unix:$PM_TMP/pm$n.sock" -c 2 -m 5 -f carol@example.com \
        >"$PM_TMP/carol$n.out" 2>"$PM_TMP/carol$n.err" &
done
wait_failed=0
for job in $(jobs -p); do
    case " ${PIDS[*]} " in *" $job "*) continue ;; esac
    wait "$job" || wait_failed=1
done
cat "$PM_TMP"/alice*.out "$PM_TMP"/carol*.out
cat "$PM_TMP"/*.err >&2
pm_assert_eq 0 "$wait_failed" "pmdrive exit status (protocol or I/O errors)"

A=("$PM_TMP"/alice[123].out)
C=("$PM_TMP"/carol[123].out)
for f in "${A[@]}" "${C[@]}"; do
    [ -s "$f" ] || pm_fail "no summary in $f"
done
pm_assert_eq 324 "$(pm_sum messages "${A[@]}")" "alice: messages offered"
pm_assert_eq 100 "$(pm_sum accepted "${A[@]}")" "alice: messages accepted"
pm_assert_eq 224 "$(pm_sum tempfail "${A[@]}")" "alice: messages tempfailed"
pm_assert_eq 0 "$(pm_sum errors "${A[@]}")" "alice: errors"
ALICE_RE='^451 4\.7\.1 <alice@example\.com>: hourly sending limit reached \(100 messages per hour\); try again after ([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] )?[0-2][0-9]:[0-5][0-9] UTC$'
pm_assert_eq 224 "$(pm_replies_matching "$ALICE_RE" "${A[@]}")" "alice: replies with the hourly text"
pm_assert_eq 224 "$(replies_all "${A[@]}")" "alice: replies of any text"

pm_assert_eq 30 "$(pm_sum messages "${C[@]}")" "carol: messages offered"
pm_assert_eq 20 "$(pm_sum accepted "${C[@]}")" "carol: messages accepted"
pm_assert_eq 10 "$(pm_sum tempfail "${C[@]}")" "carol: messages tempfailed"
CAROL_RE='^451 4\.7\.1 <carol@example\.com>: hourly sending limit reached \(20 messages per hour\); try again after ([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] )?[0-2][0-9]:[0-5][0-9] UTC$'
pm_assert_eq 10 "$(pm_replies_matching "$CAROL_RE" "${C[@]}")" "carol: replies with the hourly text"
pm_assert_eq 10 "$(replies_all "${C[@]}")" "carol: replies of any text"

# One recipient more than a recipient limit can take is refused alone, with a
# 452 the client retries in another message; the message goes to the others.
rcpts=()
for r in a b c d e; do
    rcpts+=(-r "$r@example.org")
done
"$DRIVE" -S "unix:$PM_TMP/pm1.sock" -c 1 -m 1 -f rita@example.com "${rcpts[@]}" >"$PM_TMP/rita.out" 2>&1 ||
    pm_fail "rita: $(cat "$PM_TMP/rita.out")"
pm_assert_eq "1 2" "$(pm_summary "$PM_TMP/rita.out" accepted rcpt_refused)" "rita: accepted, recipients refused"
grep -qxF "reply 2 452 4.7.1 <rita@example.com>: too many recipients for the hourly recipient limit (3 external recipients per hour); send to the others in another message later" \
    "$PM_TMP/rita.out" || pm_fail "rita: replies: $(cat "$PM_TMP/rita.out")"

# Every server is still alive, then stops cleanly on SIGTERM and removes its socket.
for i in 0 1 2; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || pm_fail "postmeter $((i + 1)) died"
done
for i in 0 1 2; do
    kill -TERM "${PIDS[$i]}"
done
for i in 0 1 2; do
    pm_stop_clean "${PIDS[$i]}" "postmeter $((i + 1))"
    [ -e "$PM_TMP/pm$((i + 1)).sock" ] && pm_fail "postmeter $((i + 1)) left its socket behind"
done
echo "PASS: exact.sh"
exit 0
