# shellcheck shell=bash
# secrets.sh - a part of the package test (tests/package/run sources it once
# the package is installed, with tests/lib/common.sh loaded and CONF set to
# the installed configuration): the installed system takes the README's
# recipe for the contacts key and refuses the ones that would fail.
#
# The Redis ACL example is installed; a key made as the README says
# (install -m 0640 -o root -g postmeter /dev/null FILE, then fill it) gives
# root's "postmeter -n" and "postmeterctl check-config" "configuration OK
# (and readable by user postmeter)", read as the unit's User=; a key only
# root can read fails both with file:line and the fix, and so does a key
# others can read. It leaves nothing behind in /etc/postmeter.
#
# SPDX-License-Identifier: BSD-2-Clause

[ -f /usr/share/doc/postmeter/examples/redis-acl.conf ] ||
    pm_fail "/usr/share/doc/postmeter/examples/redis-acl.conf is not installed"
SECRETS_KEY=/etc/postmeter/package-test-contacts.key
SECRETS_CONF=/etc/postmeter/package-test.conf
pm_on_exit "rm -f $SECRETS_KEY $SECRETS_CONF"
sed "s|^  secret_file = \"\";|  secret_file = \"$SECRETS_KEY\";|" "$CONF" >"$SECRETS_CONF"
chmod 0644 "$SECRETS_CONF"
secrets_line=$(grep -n "secret_file = \"$SECRETS_KEY\";" "$SECRETS_CONF" | cut -d: -f1)
[ -n "$secrets_line" ] || pm_fail "no secret_file line in $CONF"

# Assert that root's postmeter -n and postmeterctl check-config print $2 and exit $1.
secrets_check() {
    local out rc=0
    out=$(/usr/sbin/postmeter -n -c "$SECRETS_CONF" 2>&1) || rc=$?
    pm_assert_eq "$2" "$out" "postmeter -n ($3)"
    pm_assert_eq "$1" "$rc" "postmeter -n exit status ($3)"
    rc=0
    out=$(/usr/sbin/postmeterctl -c "$SECRETS_CONF" check-config 2>&1) || rc=$?
    pm_assert_eq "$2" "$out" "postmeterctl check-config ($3)"
    pm_assert_eq "$1" "$rc" "postmeterctl check-config exit status ($3)"
}

install -m 0640 -o root -g postmeter /dev/null "$SECRETS_KEY"
head -c 32 /dev/urandom >"$SECRETS_KEY"
secrets_check 0 "$SECRETS_CONF: configuration OK (and readable by user postmeter)" "the README's key"
chmod 0600 "$SECRETS_KEY"
secrets_check 1 "$SECRETS_CONF:$secrets_line: contacts.secret_file: cannot open $SECRETS_KEY as user postmeter: Permission denied; chown root:postmeter $SECRETS_KEY; chmod 0640 $SECRETS_KEY" \
    "a key only root can read"
chmod 0644 "$SECRETS_KEY"
secrets_check 1 "$SECRETS_CONF:$secrets_line: contacts.secret_file: $SECRETS_KEY is readable by others (mode 0644): chown root:postmeter $SECRETS_KEY; chmod 0640 $SECRETS_KEY" \
    "a key others can read"
rm -f "$SECRETS_KEY" "$SECRETS_CONF"
echo "ok: the contacts key as the README makes it, and the ones postmeter refuses"
