# shellcheck shell=bash
# postfix_conf.sh - the parts of a private loopback Postfix instance that the
# tests (tests/lib/postfix.sh) and the benchmark (bench/lib.sh) share: its
# directories, the main.cf lines both need, master.cf's services, a start that
# shows the log when it fails, and a bounded stop.
#
# Source it after common.sh, as root. Nothing here reads or writes /etc/postfix
# or the system queue.
#
# SPDX-License-Identifier: BSD-2-Clause

# Create the instance's directories under $1 so that the postfix user can
# reach them below $PM_TMP.
pm_pf_dirs() {
    chmod 711 "$PM_TMP"
    mkdir -p "$1/etc" "$1/queue" "$1/data"
    chmod 711 "$1"
    chown postfix "$1/data"
}

# Print the main.cf lines every private instance has: directory $1, host name
# $2, relaying everything to the smtp-sink on 127.0.0.1 port $3.
pm_pf_main_cf() {
    cat <<EOF
# Private instance: nothing here touches /etc/postfix or the system queue.
compatibility_level = 3.6
queue_directory = $1/queue
data_directory = $1/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $2
mydomain = ${2#*.}
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$3
default_transport = smtp
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
maillog_file = $1/maillog
maillog_file_prefixes = $PM_TMP, /tmp, /var
in_flow_delay = 0s
smtpd_error_sleep_time = 0s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
biff = no
alias_maps =
alias_database =
smtputf8_enable = no
milter_protocol = 6
milter_default_action = tempfail
EOF
}

# Print master.cf's service lines (everything but the smtpd listeners); no
# service is chrooted, so sockets and files below $PM_TMP stay reachable.
pm_pf_services() {
    cat <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# Start the instance in $1 (umask 022: Postfix checks its queue's
# permissions); on failure show its start output and log, and fail.
pm_pf_start() {
    (umask 022 && postfix -c "$1/etc" start) >"$PM_TMP/postfix-start.log" 2>&1 || {
        cat "$PM_TMP/postfix-start.log" "$1/maillog" >&2 2>/dev/null
        pm_fail "the private postfix did not start"
    }
}

# Stop the instance in $1 (bounded: the master is killed if it lingers).
pm_pf_stop() {
    local pid tries=100
    [ -f "$1/etc/main.cf" ] || return 0
    pid=$(tr -d ' ' 2>/dev/null <"$1/queue/pid/master.pid")
    postfix -c "$1/etc" stop >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
        while ((tries-- > 0)) && kill -0 "$pid" 2>/dev/null; do
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
}
