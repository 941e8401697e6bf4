# shellcheck shell=bash
# postfix.sh - a private Postfix instance and an smtp-sink for tests.
#
# Source it after common.sh, as root. pm_sink_start starts smtp-sink on a free
# loopback port and dumps every message it receives into $PM_SINK_DIR, one file
# each. pm_postfix_start then starts a private Postfix in $PM_TMP/postfix: its
# own config directory, queue and data directories and log file, an smtpd on a
# free 127.0.0.1 port ($PM_SMTP_PORT) that offers SASL (Cyrus, a private
# sasldb) and relays everything to the sink. It never reads or writes
# /etc/postfix's main.cf or the system queue. Both stop by themselves at exit.
#
# SPDX-License-Identifier: BSD-2-Clause

# shellcheck source=postfix_conf.sh
. "$(dirname "${BASH_SOURCE[0]}")/postfix_conf.sh"

# Start smtp-sink on a free loopback port; sets PM_SINK_PORT and PM_SINK_DIR.
# A port taken meanwhile by another process (smtp-sink then exits) is
# replaced by another, 3 times at most.
pm_sink_start() {
    local tries
    pm_need smtp-sink
    PM_SINK_DIR=$PM_TMP/sink
    mkdir -p "$PM_SINK_DIR"
    chmod 1777 "$PM_SINK_DIR"
    pm_on_exit "pm_sink_stop"
    for _ in 1 2 3; do
        PM_SINK_PORT=$(pm_free_port)
        # -u: smtp-sink refuses to keep root privileges; the dump directory is world-writable.
        smtp-sink -u nobody -h sink.test -d "$PM_SINK_DIR/%Y%m%d%H%M%S." \
            "127.0.0.1:$PM_SINK_PORT" 64 >>"$PM_TMP/sink.log" 2>&1 &
        PM_SINK_PID=$!
        # bounded: 10 s for a loaded machine, less when smtp-sink has exited
        for ((tries = 200; tries > 0; tries--)); do
            (echo >/dev/tcp/127.0.0.1/"$PM_SINK_PORT") 2>/dev/null && break
            kill -0 "$PM_SINK_PID" 2>/dev/null || break
            sleep 0.05
        done
        if ((tries > 0)) && kill -0 "$PM_SINK_PID" 2>/dev/null; then
            export PM_SINK_PORT PM_SINK_DIR
            return 0
        fi
        pm_sink_stop
    done
    pm_fail "smtp-sink is not listening on $PM_SINK_PORT: $(tail -n 3 "$PM_TMP/sink.log")"
}

# Stop smtp-sink.
pm_sink_stop() {
    [ -n "${PM_SINK_PID:-}" ] || return 0
    kill "$PM_SINK_PID" 2>/dev/null || true
    wait "$PM_SINK_PID" 2>/dev/null || true
    PM_SINK_PID=
}

# Print how many messages the sink has received.
pm_sink_count() {
    find "$PM_SINK_DIR" -type f | wc -l
}

# Wait (bounded, about 10 s) until the sink holds $1 messages; 1 when it never does.
pm_sink_wait() {
    local want=$1 tries=${2:-200}
    while ((tries-- > 0)); do
        [ "$(pm_sink_count)" -ge "$want" ] && return 0
        sleep 0.05
    done
    return 1
}

# Assert that the sink holds exactly $1 messages (label $2): wait for them, then
# half a second more, so that one message too many is seen too.
pm_sink_expect() {
    pm_sink_wait "$1" || true
    sleep 0.5
    pm_assert_eq "$1" "$(pm_sink_count)" "$2"
}

# Add a SASL user to the instance's sasldb: pm_postfix_sasl_user LOGIN PASSWORD.
pm_postfix_sasl_user() {
    pm_need saslpasswd2
    local login=$1 password=$2 user realm
    user=${login%@*}
    realm=
    [ "$user" != "$login" ] && realm=${login#*@}
    mkdir -p "$PM_PF_DIR/etc/sasl"
    echo "$password" | saslpasswd2 -f "$PM_PF_DIR/etc/sasl/sasldb2" -c -p \
        ${realm:+-u "$realm"} "$user" || pm_fail "saslpasswd2 failed for $login"
    # smtpd runs as the postfix user and must read the database.
    chgrp postfix "$PM_PF_DIR/etc/sasl/sasldb2"
    chmod 640 "$PM_PF_DIR/etc/sasl/sasldb2"
}

# Write the instance's main.cf, master.cf and SASL config; $1 = milter ("" = none).
pm_postfix_write_conf() {
    local milter=$1
    # The postfix user must reach data/, etc/sasl/ and the milter socket below $PM_TMP.
    pm_pf_dirs "$PM_PF_DIR"
    mkdir -p "$PM_PF_DIR/etc/sasl"
    # Debian's Postfix reads $config_directory/sasl/smtpd.conf; cyrus_sasl_config_path says the same.
    cat >"$PM_PF_DIR/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $PM_PF_DIR/etc/sasl/sasldb2
mech_list: PLAIN LOGIN
EOF
    {
        pm_pf_main_cf "$PM_PF_DIR" mx.postmeter.test "$PM_SINK_PORT"
        cat <<EOF
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $PM_PF_DIR/etc/sasl
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
EOF
        [ -z "$milter" ] || cat <<EOF
smtpd_milters = $milter
non_smtpd_milters = $milter
internal_mail_filter_classes = bounce
EOF
    } >"$PM_PF_DIR/etc/main.cf"
    # A second smtpd without milters shows whether Postfix alone works.
    {
        echo "127.0.0.1:$PM_SMTP_PORT inet n - n - - smtpd"
        echo "127.0.0.1:$PM_SMTP_PORT_PLAIN inet n - n - - smtpd -o smtpd_milters="
        pm_pf_services
    } >"$PM_PF_DIR/etc/master.cf"
}

# Start the private Postfix; $1 = milter ("" = none). Sets PM_PF_DIR, PM_SMTP_PORT
# (smtpd with the milter) and PM_SMTP_PORT_PLAIN (smtpd without milters).
pm_postfix_start() {
    pm_need postfix
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: a private Postfix needs root" >&2
        [ "${POSTMETER_TEST_STRICT:-0}" = 1 ] && exit 99
        exit 77
    fi
    [ -n "${PM_SINK_PORT:-}" ] || pm_sink_start
    PM_PF_DIR=$PM_TMP/postfix
    PM_SMTP_PORT=$(pm_free_port)
    PM_SMTP_PORT_PLAIN=$(pm_free_port)
    (umask 022 && pm_postfix_write_conf "${1:-}") || pm_fail "cannot write the Postfix config"
    pm_on_exit "pm_postfix_stop"
    pm_pf_start "$PM_PF_DIR"
    pm_wait_port "$PM_SMTP_PORT" 200 || {
        cat "$PM_PF_DIR/maillog" >&2 2>/dev/null
        pm_fail "the private postfix is not listening on $PM_SMTP_PORT"
    }
    export PM_PF_DIR PM_SMTP_PORT PM_SMTP_PORT_PLAIN
}

# Stop the private Postfix.
pm_postfix_stop() {
    pm_pf_stop "$PM_PF_DIR"
}

# Print the lines of the private Postfix's log.
pm_postfix_log() {
    cat "$PM_PF_DIR/maillog" 2>/dev/null
}

# Start "$top_builddir/postmeter -c $1 -f"; its log goes to $PM_POSTMETER_LOG.
pm_postmeter_start() {
    local conf=$1 sock
    PM_POSTMETER=${PM_POSTMETER:-$top_builddir/postmeter}
    PM_POSTMETER_LOG=$PM_TMP/postmeter.log
    pm_need "$PM_POSTMETER"
    "$PM_POSTMETER" -n -c "$conf" >"$PM_TMP/postmeter-n.log" 2>&1 || {
        cat "$PM_TMP/postmeter-n.log" >&2
        pm_fail "postmeter -n rejected $conf"
    }
    "$PM_POSTMETER" -c "$conf" -f >"$PM_POSTMETER_LOG" 2>&1 </dev/null &
    PM_POSTMETER_PID=$!
    pm_on_exit "pm_postmeter_stop"
    sock=${PM_MILTER_SOCKET:-unix:$PM_TMP/postmeter.sock}
    case $sock in
    unix:* | local:*)
        pm_wait_file "${sock#*:}" 200 || pm_fail "postmeter did not create ${sock#*:}"
        # Postfix's smtpd (user postfix) connects to the socket, as in production.
        chgrp postfix "${sock#*:}"
        ;;
    inet:*)
        sock=${sock#inet:}
        pm_wait_port "${sock%@*}" 200 || pm_fail "postmeter is not listening on $sock"
        ;;
    esac
    kill -0 "$PM_POSTMETER_PID" 2>/dev/null || pm_fail "postmeter exited: $(cat "$PM_POSTMETER_LOG")"
    export PM_POSTMETER_LOG
}

# Stop postmeter (TERM, then KILL after about 5 s).
pm_postmeter_stop() {
    local tries=100
    [ -n "${PM_POSTMETER_PID:-}" ] || return 0
    kill "$PM_POSTMETER_PID" 2>/dev/null || true
    while ((tries-- > 0)) && kill -0 "$PM_POSTMETER_PID" 2>/dev/null; do
        sleep 0.05
    done
    kill -9 "$PM_POSTMETER_PID" 2>/dev/null || true
    wait "$PM_POSTMETER_PID" 2>/dev/null || true
    PM_POSTMETER_PID=
}

# Send one message in its own SMTP session through the private Postfix:
# pm_swaks_send FROM TO [swaks options...]. Prints the reply that decided the
# message: the first error reply ("451 4.7.1 ..."), else "250 2.0.0 Ok: queued as ID".
# The whole conversation is appended to $PM_TMP/swaks.log. PM_SWAKS_PORT picks
# another port than $PM_SMTP_PORT.
pm_swaks_send() {
    local from=$1 to=$2 out reply
    shift 2
    out=$(swaks --server 127.0.0.1 --port "${PM_SWAKS_PORT:-$PM_SMTP_PORT}" --timeout 20 \
        --from "$from" --to "$to" "$@" 2>&1)
    printf '%s\n' "$out" >>"$PM_TMP/swaks.log"
    # swaks marks replies "<-" ("<~" inside TLS), error replies "<**" ("<~*")
    reply=$(printf '%s\n' "$out" | sed -n 's/^<\(\*\*\|~\*\) *//p' | head -n 1)
    [ -n "$reply" ] || reply=$(printf '%s\n' "$out" | sed -n 's/^<[-~] *\(250 .*queued as .*\)/\1/p' | head -n 1)
    [ -n "$reply" ] || reply="no reply: $(printf '%s\n' "$out" | tail -n 1)"
    printf '%s\n' "$reply"
}

# On failure, show the end of postmeter's, Postfix's and swaks' logs before
# $PM_TMP is removed (replaces common.sh's pm_fail for end-to-end tests).
pm_fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "${PM_POSTMETER_LOG:-}" "${PM_PF_DIR:-}/maillog" "$PM_TMP/swaks.log"; do
        [ -f "$f" ] && { echo "--- last lines of $f" && tail -n 25 "$f"; } >&2
    done
    exit 1
}

# The first-contact tests' setup: Redis, postmeter with local_domains
# example.com, a contact secret, an unlimited default plan and more config
# from stdin, smtp-sink, the private Postfix, and alice@example.com as a SASL
# user; sets AUTH to swaks' options for her login.
pm_cold_start() {
    local extra
    extra=$(cat)
    pm_redis_start
    pm_secret_file "$PM_TMP/contacts.key"
    pm_write_conf "$PM_TMP/postmeter.conf" <<CONF
local_domains = [ "example.com" ];
contacts: { secret_file = "$PM_TMP/contacts.key"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
$extra
CONF
    pm_postmeter_start "$PM_TMP/postmeter.conf"
    pm_sink_start
    pm_postfix_start "unix:$PM_TMP/postmeter.sock"
    pm_postfix_sasl_user alice@example.com alice-pw
    AUTH=(--auth PLAIN --auth-user alice@example.com --auth-password alice-pw)
}

# The private instance's queue, one "ID QUEUE SENDER" line per message, sorted
# (postqueue -j; the null sender is "<>").
pm_postfix_queue() {
    pm_need postqueue python3
    postqueue -c "$PM_PF_DIR/etc" -j | python3 -c '
import json, sys
for m in map(json.loads, sys.stdin):
    print(m["queue_id"], m["queue_name"], m["sender"] or "<>")' | sort
}

# Wait (bounded, about 5 s) until queue id $1 is on hold; fail when it never is.
pm_postfix_wait_hold() {
    local i
    for i in $(seq 1 50); do
        pm_postfix_queue | grep -q "^$1 hold " && return 0
        sleep 0.1
    done
    pm_fail "$1 is not on hold: $(pm_postfix_queue | tr '\n' ';')"
}
