#!/bin/bash
# secrets.sh - the contacts key and the Redis password file as a real server
# has them: the README's recipe (install -m 0640 -o root -g GROUP, then fill
# it) gives a key that root's "postmeter -n" and "postmeterctl check-config"
# pass and that the daemon, switched to its user, reads at start and at a
# reload; a key others can read, a password file its group can write and a
# key in a directory its group can write are refused, each with file:line
# and the fix; a key only root can read fails "postmeter -n" run as root
# (it checks as the configured user) and stops a start, instead of a later
# reload. The configured user here is nobody (group nogroup): the test needs
# root to switch to it.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
pm_need "$PM" "$CTL" install runuser
if [ "$(id -u)" != 0 ]; then
    [ "${POSTMETER_TEST_STRICT:-0}" = 1 ] && pm_fail "secrets.sh needs root (to switch users)"
    echo "SKIP: secrets.sh needs root" >&2
    exit 77
fi
getent passwd nobody >/dev/null && getent group nogroup >/dev/null ||
    pm_fail "no user nobody or group nogroup"
pm_redis_start

# nobody must reach the files: the test's own directory is 0700.
chmod 0711 "$PM_TMP"
ETC=$PM_TMP/etc
RUN=$PM_TMP/run
mkdir -m 0755 "$ETC"
mkdir -m 0750 "$RUN"
chown nobody:nogroup "$RUN"
KEY=$ETC/contacts.key
PW=$ETC/redis.pass
CONF=$ETC/postmeter.conf
PM_FAIL_LOGS=$PM_TMP/pm.log

# The configuration: user nobody, the key on line 7, the password file on line 5 ($1: 1 or 0).
write_conf() {
    local pw=""
    [ "${1:-0}" = 1 ] && pw="password_file = \"$PW\";"
    cat >"$CONF" <<EOF
milter: { socket = "unix:$RUN/pm.sock"; };
user = "nobody";
redis: { host = "127.0.0.1"; port = $PM_REDIS_PORT; key_prefix = "pmtest";
         test_clock = true;
         $pw };
contacts: {
  secret_file = "$KEY";
};
EOF
    chmod 0644 "$CONF"
}

# Assert that "postmeter -n" and "postmeterctl check-config" both print $2
# (stdout and stderr) and exit $1 ($3: what the case is).
check_both() {
    local out rc=0
    out=$("$PM" -n -c "$CONF" 2>&1) || rc=$?
    pm_assert_eq "$2" "$out" "postmeter -n: $3"
    pm_assert_eq "$1" "$rc" "postmeter -n exit status: $3"
    rc=0
    out=$("$CTL" -c "$CONF" check-config 2>&1) || rc=$?
    pm_assert_eq "$2" "$out" "postmeterctl check-config: $3"
    pm_assert_eq "$1" "$rc" "postmeterctl check-config exit status: $3"
}

# --- the README's recipe, with nogroup for postmeter ---------------------------
write_conf
install -m 0640 -o root -g nogroup /dev/null "$KEY"
head -c 32 /dev/urandom >"$KEY"
check_both 0 "$CONF: configuration OK (and readable by user nobody)" "the README's recipe"
pm_assert_eq "640 root:nogroup" "$(stat -c '%a %U:%G' "$KEY")" "the recipe's key"
out=$("$CTL" -c "$CONF" --json check-config)
pm_assert_eq "{\"file\":\"$CONF\",\"ok\":true,\"plans\":1,\"rules\":5,\"user\":\"nobody\",\"warnings\":[]}" "$out" \
    "check-config --json"
# run by the user itself: nothing more to check
out=$(runuser -u nobody -- "$PM" -n -c "$CONF" 2>&1)
pm_assert_eq "$CONF: configuration OK" "$out" "postmeter -n as nobody"

# --- the daemon switches to nobody, reads the key again, and reloads -----------
"$PM" -c "$CONF" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill $PID"
pm_wait_file "$RUN/pm.sock" || pm_fail "postmeter did not start as nobody"
pm_assert_eq nobody "$(pm_proc_user "$PID")" "the daemon's user"
kill -HUP "$PID"
pm_wait_grep "reloaded $CONF" "$PM_TMP/pm.log" || pm_fail "no reload as nobody"
pm_stop_clean "$PID" "postmeter as nobody"

# --- the old recipe: a key everybody can read ----------------------------------
rm -f "$KEY"
(umask 022 && head -c 32 /dev/urandom >"$KEY")
check_both 1 "$CONF:7: contacts.secret_file: $KEY is readable by others (mode 0644): chown root:nogroup $KEY; chmod 0640 $KEY" \
    "a key others can read"

# --- a key only root can read: root's check reads it as nobody -----------------
chmod 0600 "$KEY"
want="$CONF:7: contacts.secret_file: cannot open $KEY as user nobody: Permission denied; chown root:nogroup $KEY; chmod 0640 $KEY"
check_both 1 "$want" "a key only root can read"
# a start as root stops there, not at the first reload
rc=0
"$PM" -c "$CONF" -f 2>"$PM_TMP/start.log" || rc=$?
pm_assert_eq 1 "$rc" "start with a key nobody cannot read"
grep -qF "postmeter[" "$PM_TMP/start.log" && line=$(sed 's/^[^ ]* postmeter\[[0-9]*\]: //' "$PM_TMP/start.log")
pm_assert_eq "cannot start: $want" "${line:-}" "the start's error"
[ ! -e "$RUN/pm.sock" ] || pm_fail "a socket was opened"

# --- the Redis password file: the same rules ------------------------------------
chgrp nogroup "$KEY"
chmod 0640 "$KEY"
write_conf 1
install -m 0620 -o root -g nogroup /dev/null "$PW"
echo "meter s3cret-pw" >"$PW"
check_both 1 "$CONF:5: redis.password_file: $PW is writable by its group (mode 0620): chown root:nogroup $PW; chmod 0640 $PW" \
    "a password file its group can write"
chmod 0640 "$PW"
check_both 0 "$CONF: configuration OK (and readable by user nobody)" "a good password file"

# --- a directory its group can write -----------------------------------------------
chgrp nogroup "$ETC"
chmod 0775 "$ETC"
check_both 1 "$CONF:5: redis.password_file: directory $ETC is writable by its group (mode 0775): whoever can write there can replace $PW; chmod go-w $ETC" \
    "a directory its group can write"
chmod 0755 "$ETC"
echo "secrets: ok"
