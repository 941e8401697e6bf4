#!/bin/bash
# topology_e2e.sh - the README's topology through a real Postfix: postmeter
# beside another milter, on the submission services, port 25 and local mail.
#
# A private Postfix is configured from the shipped snippets as the README
# says: etc/postfix-main.cf.snippet applied line by line with postconf -e,
# then site_milters set to another milter (markmilter, standing in for
# OpenDKIM: it adds "X-Stand-In: signed" to every message it sees) and
# postmeter_milter to postmeter's socket (full paths: this instance is not
# chrooted); etc/postfix-master.cf.snippet appended to master.cf with only
# its two service names changed to free loopback ports (587 -> P587, 465 ->
# P465); an smtpd on a third port stands in for port 25. Outgoing mail is
# authenticated mail only (outbound.networks = []), 3 messages an hour.
#   (0) postmeterctl check-postfix finds nothing in this instance;
#   (a) alice sends through 587 (STARTTLS, AUTH) and 465 (TLS from the first
#       byte): both milters see each message: it reaches the sink signed by
#       the stand-in and postmeter logs its decision under the same queue id;
#       587 offers AUTH only after STARTTLS;
#   (b) dan writes to alice on "port 25": signed by the stand-in, and postmeter
#       learns him as alice's contact;
#   (c) postmeter stops: port 25 still takes dan's mail (signed), local mail
#       (sendmail) still leaves, both unmetered; 587 answers STARTTLS with
#       454 4.3.0 and 465 answers MAIL FROM with 451 4.7.1 (Postfix logs the
#       451 4.7.1 of CONNECT), so clients keep their mail and try again;
#   (d) the stand-in stops, postmeter runs again: 587 still takes alice's
#       third message, unsigned (the stand-in keeps main.cf's accept:
#       postmeter's tempfail is its own), and postmeter meters it: her fourth
#       is refused with the hourly limit.
#
# SPDX-License-Identifier: BSD-2-Clause

# shellcheck disable=SC2016 # $name in single quotes is Postfix's, not the shell's
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

MARK=$top_builddir/tests/tools/markmilter
CTL=$top_builddir/postmeterctl
pm_need swaks postfix postconf smtp-sink saslpasswd2 sendmail openssl python3 \
    "$top_builddir/postmeter" "$CTL" "$MARK"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: a private Postfix needs root" >&2
    [ "${POSTMETER_TEST_STRICT:-0}" = 1 ] && exit 99
    exit 77
fi

pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
pm_write_conf "$PM_TMP/postmeter.conf" <<CONF
local_domains = [ "example.com" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
plans: { default: { messages_per_hour = 3; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
CONF
pm_postmeter_start "$PM_TMP/postmeter.conf"

# Start the stand-in for OpenDKIM on $PM_TMP/mark.sock.
mark_start() {
    "$MARK" -s "unix:$PM_TMP/mark.sock" -H "X-Stand-In: signed" 2>>"$PM_TMP/mark.log" &
    MARK_PID=$!
    pm_wait_file "$PM_TMP/mark.sock" || pm_fail "markmilter did not start: $(cat "$PM_TMP/mark.log")"
}
mark_start
pm_on_exit 'kill $MARK_PID'
pm_sink_start

# The instance: the snippets applied as documented.
PM_PF_DIR=$PM_TMP/postfix
PF=$PM_PF_DIR/etc
P25=$(pm_free_port)
P587=$(pm_free_port)
P465=$(pm_free_port)
pm_pf_dirs "$PM_PF_DIR"
mkdir -p "$PF/sasl"
cat >"$PF/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $PF/sasl/sasldb2
mech_list: PLAIN LOGIN
EOF
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=mx.postmeter.test -days 2 \
    -keyout "$PF/key.pem" -out "$PF/cert.pem" >"$PM_TMP/openssl.log" 2>&1 ||
    pm_fail "openssl cannot make a certificate: $(cat "$PM_TMP/openssl.log")"
{
    pm_pf_main_cf "$PM_PF_DIR" mx.postmeter.test "$PM_SINK_PORT"
    cat <<EOF
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $PF/sasl
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_cert_file = $PF/cert.pem
smtpd_tls_key_file = $PF/key.pem
EOF
} >"$PF/main.cf"
while IFS= read -r line; do
    postconf -c "$PF" -e "$line" || pm_fail "postconf -e refuses the snippet's line '$line'"
done < <(grep -v -e '^#' -e '^$' "$top_srcdir/etc/postfix-main.cf.snippet")
postconf -c "$PF" -e "site_milters = unix:$PM_TMP/mark.sock" \
    "postmeter_milter = unix:$PM_TMP/postmeter.sock"
{
    echo "127.0.0.1:$P25 inet n - n - - smtpd"
    sed -e "s/^submission inet .*/127.0.0.1:$P587 inet n - n - - smtpd/" \
        -e "s/^submissions inet .*/127.0.0.1:$P465 inet n - n - - smtpd/" \
        "$top_srcdir/etc/postfix-master.cf.snippet"
    pm_pf_services
    echo "tlsmgr unix - - n 1000? 1 tlsmgr"
} >"$PF/master.cf"
pm_assert_eq "127.0.0.1:$P587/inet/smtpd_milters = unix:$PM_TMP/mark.sock,{unix:$PM_TMP/postmeter.sock,default_action=tempfail}" \
    "$(postconf -c "$PF" -Px "127.0.0.1:$P587/inet/smtpd_milters")" "587's milters"
pm_on_exit "pm_postfix_stop"
pm_pf_start "$PM_PF_DIR"
for port in "$P25" "$P587" "$P465"; do
    pm_wait_port "$port" 200 || pm_fail "the private postfix is not listening on $port"
done
pm_postfix_sasl_user alice@example.com alice-pw
AUTH=(--auth PLAIN --auth-user alice@example.com --auth-password alice-pw)

# (0) check-postfix finds nothing
out=$("$CTL" -c "$PM_TMP/postmeter.conf" check-postfix --config-dir "$PF" 2>&1)
rc=$?
pm_assert_eq "$PF: no problems found (postmeter at $PM_TMP/postmeter.sock)" "$out" "check-postfix on this instance"
pm_assert_eq 0 "$rc" "check-postfix on this instance: exit status"

# Print the header lines $2 of the sink's message with subject $1.
sink_header() {
    local f
    f=$(grep -l "^Subject: $1\$" "$PM_SINK_DIR"/* | head -n 1)
    [ -n "$f" ] || {
        echo "no message '$1' in the sink"
        return
    }
    grep -h "^$2:" "$f"
}

# Assert that reply $1 queued message (label $2) and postmeter logged $3 for its queue id.
queued_and_logged() {
    case $1 in
    "250 2.0.0 Ok: queued as "*) ;;
    *) pm_fail "$2: expected 250, got '$1'" ;;
    esac
    pm_wait_grep "${1##* }: .*$3" "$PM_POSTMETER_LOG" 50 ||
        pm_fail "$2: postmeter logged no '$3' for ${1##* }"
}

# (a) outgoing, both milters on 587 and 465
reply=$(PM_SWAKS_PORT=$P587 pm_swaks_send alice@example.com bob@example.net --tls "${AUTH[@]}" \
    --h-Subject "via 587")
queued_and_logged "$reply" "alice on 587" "stage=eom action=accept reason=ok sender=alice@example.com "
reply=$(PM_SWAKS_PORT=$P465 pm_swaks_send alice@example.com bob@example.net --tlsc "${AUTH[@]}" \
    --h-Subject "via 465")
queued_and_logged "$reply" "alice on 465" "stage=eom action=accept reason=ok sender=alice@example.com "
pm_sink_expect 2 "messages in the sink after (a)"
pm_assert_eq "X-Stand-In: signed" "$(sink_header "via 587" X-Stand-In)" "the stand-in's header on 587"
pm_assert_eq "X-Stand-In: signed" "$(sink_header "via 465" X-Stand-In)" "the stand-in's header on 465"
ehlo=$(swaks --server 127.0.0.1 --port "$P587" --quit-after EHLO 2>&1)
case $ehlo in *"250-STARTTLS"*) ;; *) pm_fail "587 offers no STARTTLS: $ehlo" ;; esac
case $ehlo in *AUTH*) pm_fail "587 offers AUTH before STARTTLS: $ehlo" ;; esac

# (b) incoming on port 25: the stand-in signs, postmeter learns
reply=$(PM_SWAKS_PORT=$P25 pm_swaks_send dan@example.net alice@example.com --h-Subject "dan 1")
queued_and_logged "$reply" "dan on port 25" "feedback=learned sender=alice@example.com rcpt=dan@example.net"
pm_sink_expect 3 "messages in the sink after (b)"
pm_assert_eq "X-Stand-In: signed" "$(sink_header "dan 1" X-Stand-In)" "the stand-in's header on port 25"

# (c) postmeter down
pm_postmeter_stop
reply=$(PM_SWAKS_PORT=$P25 pm_swaks_send dan@example.net alice@example.com --h-Subject "dan 2")
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "port 25 with postmeter down: $reply" ;; esac
printf 'From: lou@example.com\nSubject: local\n\nlocal\n' >"$PM_TMP/local.eml"
sendmail -C "$PF" -f lou@example.com -- x@example.net <"$PM_TMP/local.eml" || pm_fail "sendmail failed"
pm_assert_eq "454 4.3.0 Try again later" \
    "$(PM_SWAKS_PORT=$P587 pm_swaks_send alice@example.com bob@example.net --tls "${AUTH[@]}")" \
    "587 with postmeter down"
pm_assert_eq "451 4.7.1 Service unavailable - try again later" \
    "$(PM_SWAKS_PORT=$P465 pm_swaks_send alice@example.com bob@example.net --tlsc)" \
    "465 with postmeter down"
pm_wait_grep "postfix/submission/smtpd\[[0-9]+\]: NOQUEUE: milter-reject: CONNECT from unknown\[127\.0\.0\.1\]: 451 4\.7\.1 Service unavailable - try again later; proto=SMTP" \
    "$PM_PF_DIR/maillog" 50 || pm_fail "Postfix logged no tempfail at CONNECT on 587"
pm_sink_expect 5 "messages in the sink after (c)"
pm_assert_eq "X-Stand-In: signed" "$(sink_header "dan 2" X-Stand-In)" "the stand-in's header on port 25, postmeter down"
pm_assert_eq "X-Stand-In: signed" "$(sink_header local X-Stand-In)" "the stand-in's header on local mail"

# (d) the stand-in down, postmeter up: 587 still takes and meters alice's mail
kill "$MARK_PID"
wait "$MARK_PID" 2>/dev/null
pm_postmeter_start "$PM_TMP/postmeter.conf"
reply=$(PM_SWAKS_PORT=$P587 pm_swaks_send alice@example.com carol@example.net --tls "${AUTH[@]}" \
    --h-Subject "unsigned")
queued_and_logged "$reply" "alice on 587, the stand-in down" "stage=eom action=accept reason=ok sender=alice@example.com "
pm_sink_expect 6 "messages in the sink after (d)"
pm_assert_eq "" "$(sink_header unsigned X-Stand-In)" "no stand-in header with the stand-in down"
reply=$(PM_SWAKS_PORT=$P587 pm_swaks_send alice@example.com dave@example.net --tls "${AUTH[@]}")
case $reply in
"451 4.7.1 <alice@example.com>: hourly sending limit reached (3 messages per hour); try again after "*" UTC") ;;
*) pm_fail "alice's fourth message on 587: $reply" ;;
esac
pm_sink_expect 6 "messages in the sink at the end"

echo "PASS: topology_e2e"
