#!/bin/bash
# soak.sh - a bounded soak: 20 milter connections send mail through one
# postmeter and a real Redis for SOAK_SECONDS (default 20; the full soak is
# `SOAK_SECONDS=300 tests/integration/soak.sh`), with bodies that carry links
# and attachments so the content scan runs too. postmeter's resident memory
# is sampled after every round: the highest sample of the second half of the
# run may not exceed the highest of the first half (the warm-up: thread pool
# and malloc arenas grow there) by more than 10 % + 2 MB, and no message may
# end in a protocol error.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE"
pm_redis_start
SECONDS_TOTAL=${SOAK_SECONDS:-20}
pm_milter_start pm <<'CONF'
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; }; };
CONF
PID=$PM_LAST_PID

# Resident memory of postmeter's milter process (the child of $PID) in kB.
rss() {
    local milter
    read -r milter _ <"/proc/$PID/task/$PID/children"
    awk '/^VmRSS:/ { print $2 }' "/proc/$milter/status"
}

half=$((SECONDS + SECONDS_TOTAL / 2))
end=$((SECONDS + SECONDS_TOTAL))
round=0
total=0
base=0
peak=0
while ((SECONDS < end && round < 10000)); do
    round=$((round + 1))
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 20 -m 10 -R 3 -b 20000 -f "soak$((round % 50))@example.com" \
        >"$PM_TMP/round.out" 2>&1 || pm_fail "round $round: $(cat "$PM_TMP/round.out")"
    grep -q ' errors=0 ' "$PM_TMP/round.out" || pm_fail "round $round: $(head -n 1 "$PM_TMP/round.out")"
    total=$((total + 200))
    kill -0 "$PID" || pm_fail "postmeter died in round $round"
    r=$(rss)
    if ((SECONDS < half)); then
        ((r > base)) && base=$r
    elif ((r > peak)); then
        peak=$r
    fi
done
((round >= 2)) || pm_fail "only $round round(s) ran"
((base > 0 && peak > 0)) || pm_fail "no RSS sample in one half of the run"
limit=$((base + base / 10 + 2048))
# AddressSanitizer holds freed memory in quarantine: RSS says nothing there.
if [ "${POSTMETER_SANITIZED:-0}" != 1 ]; then
    ((peak <= limit)) || pm_fail "RSS grew from ${base} kB (first half) to ${peak} kB (limit ${limit} kB)"
fi
echo "PASS: soak ($round rounds, $total messages in ${SECONDS_TOTAL}s; RSS peak ${base} kB in the first half, ${peak} kB in the second)"
