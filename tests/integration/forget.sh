#!/bin/bash
# forget.sh - postmeterctl forget --all deletes exactly the keys of the
# configured prefix. postmeter meters mail from 1500 senders under prefix
# "pmtest" (thousands of keys: many SCAN pages), postmeterctl writes a
# credit, a plan override and a suppression entry under "pmtest" and under
# two other prefixes, "other" and "pmtestx" (which starts with the same
# letters). Without a terminal and without --yes it refuses (exit 2) and
# deletes nothing; on a terminal a wrong answer deletes nothing, the prefix
# typed back deletes every "pmtest" key and says how many; --yes deletes
# without asking; the other prefixes' keys stay, every one.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE" redis-server redis-cli script
pm_redis_start
PM_FAIL_LOGS=$PM_TMP/m.log

# Write a postmeterctl configuration for key prefix $1 into $PM_TMP/$1.conf.
ctl_conf() {
    cat >"$PM_TMP/$1.conf" <<EOF
user = "";
redis: { host = "127.0.0.1"; port = $PM_REDIS_PORT; key_prefix = "$1"; };
plans: { default: { }; big: { messages_per_day = 0; }; };
EOF
}

# postmeterctl for prefix $1, the rest its arguments.
ctl() {
    local p=$1
    shift
    "$CTL" -c "$PM_TMP/$p.conf" "$@"
}

# The number of keys of prefix $1.
keys() {
    pm_rcli --scan --pattern "$1:*" | wc -l
}

# What postmeterctl writes for the administrator, under prefix $1.
admin_writes() {
    ctl "$1" credit add alice@example.com 5 >/dev/null || pm_fail "credit add ($1)"
    ctl "$1" plan set alice@example.com big >/dev/null || pm_fail "plan set ($1)"
    ctl "$1" suppress add gone@example.org --domain example.com >/dev/null ||
        pm_fail "suppress add ($1)"
}

# Mail from 1500 senders through postmeter, prefix pmtest.
pm_milter_start m <<'EOF'
plans: { default: { messages_per_hour = 100; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; }; };
rules = ( );
EOF
"$DRIVE" -S "unix:$PM_TMP/m.sock" -c 3 -m 500 -f 'u%d@example.com' -r x@example.org \
    >"$PM_TMP/d.out" 2>&1 || pm_fail "pmdrive: $(cat "$PM_TMP/d.out")"
pm_assert_eq "messages=1500 accepted=1500" "$(head -n 1 "$PM_TMP/d.out" | cut -d' ' -f1-2)" \
    "the mail"
pm_stop_clean "$PM_LAST_PID" postmeter # a running one would write its heartbeat again

for p in pmtest other pmtestx; do
    ctl_conf $p
    admin_writes $p
done
N=$(keys pmtest)
OTHER=$(keys other)
X=$(keys pmtestx)
((N > 3000)) || pm_fail "only $N keys of pmtest"
((OTHER >= 4 && X >= 4)) || pm_fail "other prefixes' keys: $OTHER, $X"
WHERE="redis 127.0.0.1:$PM_REDIS_PORT db 0"

# No terminal, no --yes: refused.
rc=0
ctl pmtest forget --all </dev/null >"$PM_TMP/out" 2>"$PM_TMP/err" || rc=$?
pm_assert_eq 2 "$rc" "exit status without a terminal"
pm_assert_eq "postmeterctl: forget --all deletes every key of prefix \"pmtest\" in $WHERE: without a terminal to confirm on, give --yes" \
    "$(cat "$PM_TMP/err")" "the refusal"
pm_assert_eq "" "$(cat "$PM_TMP/out")" "output of a refusal"
rc=0
ctl pmtest forget </dev/null 2>"$PM_TMP/err" || rc=$?
pm_assert_eq 2 "$rc" "exit status without --all"
pm_assert_eq "postmeterctl: usage: forget --all [--yes]" "$(cat "$PM_TMP/err")" "forget alone"
pm_assert_eq "$N" "$(keys pmtest)" "keys after the refusals"

# On a terminal: a wrong answer deletes nothing.
rc=0
script -qec "$CTL -c $PM_TMP/pmtest.conf forget --all" /dev/null <<<"pm" >"$PM_TMP/tty" || rc=$?
pm_assert_eq 2 "$rc" "exit status of a wrong answer"
tr -d '\r' <"$PM_TMP/tty" | grep -qx 'Type the prefix (pmtest) to confirm: postmeterctl: not confirmed: nothing deleted' ||
    pm_fail "wrong answer: $(cat "$PM_TMP/tty")"
pm_assert_eq "$N" "$(keys pmtest)" "keys after a wrong answer"

# The prefix typed back: every key of pmtest goes, and no other.
rc=0
script -qec "$CTL -c $PM_TMP/pmtest.conf forget --all" /dev/null <<<"pmtest" >"$PM_TMP/tty" || rc=$?
pm_assert_eq 0 "$rc" "exit status when confirmed"
tr -d '\r' <"$PM_TMP/tty" | grep -qx "Type the prefix (pmtest) to confirm: deleted $N keys of prefix \"pmtest\" in $WHERE" ||
    pm_fail "confirmed: $(cat "$PM_TMP/tty")"
pm_assert_eq 0 "$(keys pmtest)" "keys of pmtest left"
pm_assert_eq "$OTHER" "$(keys other)" "keys of other"
pm_assert_eq "$X" "$(keys pmtestx)" "keys of pmtestx"
pm_assert_eq $((OTHER + X)) "$(pm_rcli DBSIZE)" "keys in Redis"

# --yes: no question; --json; nothing left to delete is 0.
admin_writes pmtest
N=$(keys pmtest)
pm_assert_eq "{\"prefix\":\"pmtest\",\"deleted\":$N}" "$(ctl pmtest --json forget --all --yes </dev/null)" \
    "forget --all --yes --json"
pm_assert_eq "deleted 0 keys of prefix \"pmtest\" in $WHERE" "$(ctl pmtest forget --all --yes)" \
    "nothing left"
pm_assert_eq $((OTHER + X)) "$(pm_rcli DBSIZE)" "keys in Redis at the end"
pm_assert_eq "$OTHER" "$(keys other)" "keys of other at the end"
