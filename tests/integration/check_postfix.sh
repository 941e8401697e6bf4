#!/bin/bash
# check_postfix.sh - postmeterctl check-postfix against real Postfix
# configuration directories.
#
# Each case writes a private configuration directory (no Postfix daemon runs:
# postconf -c DIR reads it): main.cf from tests/lib/postfix_conf.sh's lines
# with etc/postfix-main.cf.snippet applied line by line with postconf -e, as
# the README says, and master.cf from Debian's shipped master.cf with
# etc/postfix-master.cf.snippet appended; postmeter's socket is a real unix
# socket below the instance's queue directory, of group postfix, mode 0660.
# Then one change per case, made with postconf (-e, -X, -P, -PX, -F, -MX),
# and the exact lines and exit status of check-postfix:
#   (0) the snippets as shipped, with no other milter, with an OpenDKIM-like
#       one and with OpenDKIM and Rspamd in site_milters: nothing found, and
#       postconf -P shows ports 587 and 465 composing main.cf's milters with
#       postmeter;
#   (a) the old submission snippet (postmeter alone) drops main.cf's milters;
#   (b) a submission service without postmeter, and port 25 without it;
#   (c) an override that drops postmeter;
#   (d) no non_smtpd_milters; (e) no internal_mail_filter_classes;
#   (f) the socket's directory, the socket, unreachable or missing, or out
#       of sight of the user running check-postfix;
#   (g) tempfail for postmeter on port 25 (main.cf, its own { } entry, an
#       override, and postscreen's smtpd);
#   (h) AUTH without TLS; (i) no submission service;
#   (j) a socket path that does not lead to postmeter's socket (a wrong name,
#       a service that is not chrooted);
#   (k) a parameter that refers to itself through an override;
#   (l) usage errors and a missing directory; --json.
#
# SPDX-License-Identifier: BSD-2-Clause

# shellcheck disable=SC2016 # $name in single quotes is Postfix's, not the shell's
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix_conf.sh"

CTL=$top_builddir/postmeterctl
DIST=/usr/share/postfix/master.cf.dist
pm_need "$CTL" postconf postfix python3 runuser
[ -f "$DIST" ] || pm_fail "$DIST is missing (the postfix package ships it)"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: the sockets of these cases belong to the postfix group: this needs root" >&2
    [ "${POSTMETER_TEST_STRICT:-0}" = 1 ] && exit 99
    exit 77
fi
id postfix >/dev/null 2>&1 || pm_fail "there is no postfix user (is Postfix installed?)"

SUB_FIX='-o smtpd_milters=$site_milters,{$postmeter_milter,default_action=tempfail}'

# Write instance $1 under $PM_TMP: the snippets applied as documented, the
# socket in place. Sets D (its directory), PF (its config directory), SOCK.
instance() {
    local line
    D=$PM_TMP/$1
    PF=$D/etc
    SOCK=$D/queue/postmeter/postmeter.sock
    pm_pf_dirs "$D"
    pm_pf_main_cf "$D" mx.postmeter.test 2525 >"$PF/main.cf"
    while IFS= read -r line; do
        postconf -c "$PF" -e "$line" || pm_fail "postconf -e refuses the snippet's line '$line'"
    done < <(grep -v -e '^#' -e '^$' "$top_srcdir/etc/postfix-main.cf.snippet")
    {
        cat "$DIST"
        cat "$top_srcdir/etc/postfix-master.cf.snippet"
    } >"$PF/master.cf"
    mkdir -p "$D/queue/postmeter"
    chgrp postfix "$D/queue/postmeter"
    chmod 0750 "$D/queue/postmeter"
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK" ||
        pm_fail "cannot make the socket $SOCK"
    chgrp postfix "$SOCK"
    chmod 0660 "$SOCK"
    PM_MILTER_SOCKET="unix:$SOCK" pm_write_conf "$D/postmeter.conf" </dev/null
}

# Run check-postfix on the current instance (extra arguments first); sets OUT and RC.
check() {
    OUT=$("$CTL" -c "$D/postmeter.conf" "$@" check-postfix --config-dir "$PF" 2>"$PM_TMP/stderr")
    RC=$?
}

# Assert check-postfix's exit status $1 and output: the lines that follow ($2...).
expect() {
    local want=$1 label=$2 expected
    shift 2
    check
    expected=$(printf '%s\n' "$@")
    [ "$OUT" = "$expected" ] ||
        pm_fail "$label: expected
$expected
got
$OUT
$(cat "$PM_TMP/stderr")"
    pm_assert_eq "$want" "$RC" "$label: exit status"
}

# (0) the snippets as shipped
instance clean
expect 0 "the snippets, no other milter" "$PF: no problems found (postmeter at $SOCK)"
postfix -c "$PF" check >"$PM_TMP/check.log" 2>&1 ||
    pm_fail "postfix check refuses the snippets: $(cat "$PM_TMP/check.log")"
pm_assert_eq "submission/inet/smtpd_milters = ,{unix:/postmeter/postmeter.sock,default_action=tempfail}" \
    "$(postconf -c "$PF" -Px submission/inet/smtpd_milters)" "port 587's milters, no other milter"

instance dkim
postconf -c "$PF" -e 'site_milters = inet:localhost:8891'
expect 0 "the snippets beside OpenDKIM" "$PF: no problems found (postmeter at $SOCK)"
pm_assert_eq "submission/inet/smtpd_milters = inet:localhost:8891,{unix:/postmeter/postmeter.sock,default_action=tempfail}
submissions/inet/smtpd_milters = inet:localhost:8891,{unix:/postmeter/postmeter.sock,default_action=tempfail}" \
    "$(postconf -c "$PF" -Px submission/inet/smtpd_milters submissions/inet/smtpd_milters)" \
    "ports 587 and 465 compose OpenDKIM and postmeter"
pm_assert_eq "inet:localhost:8891, unix:/postmeter/postmeter.sock
inet:localhost:8891, unix:/postmeter/postmeter.sock" \
    "$(postconf -c "$PF" -xh smtpd_milters non_smtpd_milters)" "port 25 and local mail beside OpenDKIM"

instance rspamd
postconf -c "$PF" -e 'site_milters = inet:localhost:8891, inet:localhost:11332'
expect 0 "the snippets beside OpenDKIM and Rspamd" "$PF: no problems found (postmeter at $SOCK)"
pm_assert_eq "submissions/inet/smtpd_milters = inet:localhost:8891, inet:localhost:11332,{unix:/postmeter/postmeter.sock,default_action=tempfail}" \
    "$(postconf -c "$PF" -Px submissions/inet/smtpd_milters)" "port 465 composes OpenDKIM, Rspamd and postmeter"

# (a) the submission snippet of old, postmeter alone, beside OpenDKIM in main.cf
instance alone
postconf -c "$PF" -e 'site_milters = inet:localhost:8891'
postconf -c "$PF" -P 'submission/inet/smtpd_milters=unix:/postmeter/postmeter.sock' \
    'submissions/inet/smtpd_milters=unix:/postmeter/postmeter.sock'
expect 1 "postmeter alone on 587 and 465" \
    "warning: submission/inet: its smtpd_milters override drops main.cf's inet:localhost:8891: mail submitted here bypasses them (an OpenDKIM there no longer signs it); fix: name main.cf's milters in site_milters and write $SUB_FIX" \
    "warning: submissions/inet: its smtpd_milters override drops main.cf's inet:localhost:8891: mail submitted here bypasses them (an OpenDKIM there no longer signs it); fix: name main.cf's milters in site_milters and write $SUB_FIX"

# (b) 587 inherits main.cf's list, which lacks postmeter (so does port 25)
instance missing
postconf -c "$PF" -e 'smtpd_milters = $site_milters'
postconf -c "$PF" -PX submission/inet/smtpd_milters
expect 1 "no postmeter on 587" \
    "warning: smtp/inet: postmeter is not among its milters: it never learns from incoming bounces and replies (suppression list, bounce rate, contacts); fix: smtpd_milters = \$site_milters, \$postmeter_milter in main.cf, with milter_default_action = accept" \
    "error: submission/inet: postmeter is not among its milters: mail submitted here leaves unmetered; fix: $SUB_FIX"

# (c) 465's override drops postmeter
instance dropped
postconf -c "$PF" -P 'submissions/inet/smtpd_milters=$site_milters'
expect 1 "465 drops postmeter" \
    "error: submissions/inet: its smtpd_milters override drops postmeter: mail submitted here leaves unmetered; fix: $SUB_FIX"

# (d) local mail, (e) Postfix's own bounces
instance nonsmtpd
postconf -c "$PF" -X non_smtpd_milters
expect 1 "no non_smtpd_milters" \
    "warning: main.cf: postmeter is not in non_smtpd_milters: mail injected locally (sendmail, scripts) leaves unmetered; fix: non_smtpd_milters = \$site_milters, \$postmeter_milter"
instance classes
postconf -c "$PF" -X internal_mail_filter_classes
expect 1 "no internal_mail_filter_classes" \
    "warning: main.cf: internal_mail_filter_classes does not name bounce: postmeter never sees the bounces Postfix writes itself; fix: internal_mail_filter_classes = bounce"

# (f) the socket as the postfix user meets it
instance socket
chmod 0700 "$D/queue/postmeter"
expect 1 "a directory postfix cannot enter" \
    "error: $D/queue/postmeter: user postfix cannot enter this directory on the way to $SOCK (root:postfix 0700); fix: chmod g+x $D/queue/postmeter"
chmod 0750 "$D/queue/postmeter"
chmod 0600 "$SOCK"
expect 1 "a socket postfix cannot write" \
    "error: $SOCK: user postfix cannot connect to postmeter's socket (root:postfix 0600); fix: milter.socket_mode = 0660 in postmeter.conf, then restart postmeter"
chgrp root "$SOCK"
chmod 0660 "$SOCK"
expect 1 "a socket of another group" \
    "error: $SOCK: user postfix cannot connect to postmeter's socket (root:root 0660); fix: milter.socket_group = \"postmeter\" and milter.socket_mode = 0660 in postmeter.conf, adduser postfix postmeter, then restart postmeter and Postfix"
rm -f "$SOCK"
expect 1 "no socket" \
    "warning: $SOCK: postmeter's socket does not exist: postmeter is not running; fix: start postmeter (systemctl start postmeter)"
rmdir "$D/queue/postmeter"
expect 1 "no socket directory" \
    "error: $D/queue/postmeter: does not exist: postmeter cannot make its socket $SOCK; fix: install -d -o postmeter -g postmeter -m 0750 $D/queue/postmeter"

# ... and by a user who may not look into the socket's directory: no verdict on it
instance unseen
cp "$CTL" "$PM_TMP/postmeterctl" # the build directory may be closed to nobody
chmod 0755 "$PM_TMP/postmeterctl"
chmod 0644 "$D/postmeter.conf"
OUT=$(runuser -u nobody -- "$PM_TMP/postmeterctl" -c "$D/postmeter.conf" check-postfix --config-dir "$PF" 2>&1)
pm_assert_eq 1 $? "run by nobody: exit status"
pm_assert_eq "warning: $SOCK: cannot be looked at by this user: the socket was not checked; fix: run check-postfix as root" \
    "$OUT" "run by nobody"

# (g) tempfail for postmeter on port 25: main.cf's default, postmeter's own
# entry, an override of port 25's service, and postscreen's smtpd
instance port25
postconf -c "$PF" -e 'milter_default_action = tempfail'
expect 1 "tempfail on port 25" \
    "warning: smtp/inet: milter_default_action is tempfail: when postmeter is down, incoming mail is refused (451 4.7.1 Service unavailable, at CONNECT); fix: milter_default_action = accept in main.cf (or -o milter_default_action=accept on this service)"
postconf -c "$PF" -e 'milter_default_action = accept' \
    'smtpd_milters = $site_milters, { $postmeter_milter, default_action=tempfail }'
expect 1 "tempfail in postmeter's entry on port 25" \
    "warning: smtp/inet: postmeter's entry says default_action=tempfail: when postmeter is down, incoming mail is refused (451 4.7.1 Service unavailable, at CONNECT); fix: default_action=accept in postmeter's { } entry"
postconf -c "$PF" -e 'smtpd_milters = $site_milters, $postmeter_milter'
postconf -c "$PF" -P 'smtp/inet/milter_default_action=reject'
expect 1 "reject on port 25's service" \
    "warning: smtp/inet: milter_default_action is reject: when postmeter is down, incoming mail is refused for good (5xx); fix: -o milter_default_action=accept on this service"
postconf -c "$PF" -MX smtp/inet
postconf -c "$PF" -M 'smtp/inet=smtp inet n - y - 1 postscreen' \
    'smtpd/pass=smtpd pass - - y - - smtpd'
postconf -c "$PF" -e 'milter_default_action = tempfail'
expect 1 "tempfail behind postscreen" \
    "warning: smtpd/pass: milter_default_action is tempfail: when postmeter is down, incoming mail is refused (451 4.7.1 Service unavailable, at CONNECT); fix: milter_default_action = accept in main.cf (or -o milter_default_action=accept on this service)"

# (h) AUTH without TLS: 587 without smtpd_tls_security_level=encrypt
instance cleartext
postconf -c "$PF" -PX submission/inet/smtpd_tls_security_level
expect 1 "AUTH in clear text on 587" \
    "error: submission/inet: AUTH is offered without TLS: passwords cross the network in clear text; fix: -o smtpd_tls_security_level=encrypt (port 587), or -o smtpd_tls_wrappermode=yes (port 465)"
postconf -c "$PF" -P submission/inet/smtpd_tls_auth_only=yes
expect 0 "AUTH only after STARTTLS on 587" "$PF: no problems found (postmeter at $SOCK)"

# (i) no submission service
instance nosub
postconf -c "$PF" -MX submission/inet submissions/inet
expect 1 "no submission service" \
    "warning: master.cf: no submission service (port 587 or 465): the mail users send should come in through one, with postmeter; fix: add the services of postfix-master.cf.snippet"

# (j) a name that does not lead to postmeter's socket
instance path
postconf -c "$PF" -e 'postmeter_milter = unix:/postmeter/other.sock'
expect 1 "a wrong socket name" \
    "error: main.cf: smtpd_milters names unix:/postmeter/other.sock, which a chrooted service reaches as $D/queue/postmeter/other.sock, but postmeter listens on $SOCK (milter.socket in postmeter.conf); fix: name it unix:/postmeter/postmeter.sock"
instance chroot
postconf -c "$PF" -F submission/inet/chroot=n
expect 1 "a service that is not chrooted" \
    "error: submission/inet: smtpd_milters names unix:/postmeter/postmeter.sock, which this service reaches as /postmeter/postmeter.sock, but postmeter listens on $SOCK (milter.socket in postmeter.conf); fix: name it unix:$SOCK"

# (k) "-o smtpd_milters=$smtpd_milters,...": every postconf fails, and so would Postfix
instance selfref
postconf -c "$PF" -P 'submission/inet/smtpd_milters=$smtpd_milters,$postmeter_milter'
expect 1 "a parameter that refers to itself"
pm_assert_eq "postmeterctl: check-postfix: cannot read Postfix's configuration: postconf: warning: unreasonable macro call nesting: \"smtpd_milters\"; postconf: fatal: macro processing error (a parameter refers to itself, such as -o smtpd_milters=\$smtpd_milters,... in master.cf: name main.cf's list in a parameter of its own, such as site_milters, and refer to that)" \
    "$(cat "$PM_TMP/stderr")" "the self-reference explained"
postfix -c "$PF" check >/dev/null 2>&1 && pm_fail "postfix check accepts a parameter that refers to itself"

# (l) usage, a missing directory, --json
instance usage
"$CTL" -c "$D/postmeter.conf" check-postfix extra 2>"$PM_TMP/stderr"
pm_assert_eq 2 $? "an extra argument: exit status"
pm_assert_eq 'postmeterctl: check-postfix: unexpected argument "extra"' "$(cat "$PM_TMP/stderr")" "an extra argument"
"$CTL" -c "$D/postmeter.conf" check-postfix --config-dir 2>"$PM_TMP/stderr"
pm_assert_eq 2 $? "--config-dir without a directory: exit status"
pm_assert_eq "postmeterctl: check-postfix: option --config-dir needs a value" "$(cat "$PM_TMP/stderr")" \
    "--config-dir without a directory"
"$CTL" -c "$D/postmeter.conf" check-postfix --config-dir "$PM_TMP/none" 2>"$PM_TMP/stderr"
pm_assert_eq 1 $? "a missing directory: exit status"
pm_assert_eq "postmeterctl: check-postfix: cannot read Postfix's configuration: postconf: fatal: open $PM_TMP/none/main.cf: No such file or directory" \
    "$(cat "$PM_TMP/stderr")" "a missing directory"
check --json
pm_assert_eq 0 "$RC" "--json, nothing found: exit status"
pm_assert_eq "{\"config_directory\":\"$PF\",\"postmeter\":\"$SOCK\",\"ok\":true,\"errors\":0,\"warnings\":0,\"findings\":[],\"not_shown\":0}" \
    "$OUT" "--json, nothing found"
postconf -c "$PF" -X internal_mail_filter_classes
postconf -c "$PF" -PX submissions/inet/smtpd_tls_wrappermode
check --json
pm_assert_eq 1 "$RC" "--json, two findings: exit status"
pm_assert_eq "{\"config_directory\":\"$PF\",\"postmeter\":\"$SOCK\",\"ok\":false,\"errors\":1,\"warnings\":1,\"findings\":[{\"severity\":\"error\",\"where\":\"submissions/inet\",\"problem\":\"AUTH is offered without TLS: passwords cross the network in clear text\",\"fix\":\"-o smtpd_tls_security_level=encrypt (port 587), or -o smtpd_tls_wrappermode=yes (port 465)\"},{\"severity\":\"warning\",\"where\":\"main.cf\",\"problem\":\"internal_mail_filter_classes does not name bounce: postmeter never sees the bounces Postfix writes itself\",\"fix\":\"internal_mail_filter_classes = bounce\"}],\"not_shown\":0}" \
    "$OUT" "--json, two findings"

echo "PASS: check_postfix"
