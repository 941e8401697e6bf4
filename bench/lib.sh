# shellcheck shell=bash
# lib.sh - setup helpers for bench/run: milters, a private Postfix, samplers.
#
# Sourced by bench/run after tests/lib/common.sh (which gives $PM_TMP, free
# ports, the private redis-server and the exit trap). Every process started
# here is registered with pm_on_exit and stopped at exit by its pid.

# Start a command in the background, log to $PM_TMP/NAME.log; sets BG_PID.
bench_bg() {
    local name=$1
    shift
    "$@" >"$PM_TMP/$name.log" 2>&1 &
    BG_PID=$!
    pm_on_exit "bench_stop $BG_PID"
}

# Stop one process we started: TERM, then KILL after about 5 s.
bench_stop() {
    local pid=$1 tries=100
    kill "$pid" 2>/dev/null || return 0
    while ((tries-- > 0)) && kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Wait (bounded) until a milter socket spec (unix:PATH or inet:PORT@ADDR) listens.
bench_wait_sock() {
    case $1 in
    unix:*) pm_wait_file "${1#unix:}" 200 ;;
    inet:*)
        local p=${1#inet:}
        pm_wait_port "${p%@*}" 200
        ;;
    esac
}

# Start a null milter: bench_null NAME SOCKET MODE [-D]; sets PID_<NAME>.
bench_null() {
    local name=$1 sock=$2
    shift 2
    bench_bg "$name" "$BENCH_BIN/nullmilter" -s "$sock" -n "$@"
    printf -v "PID_$name" '%s' "$BG_PID"
    bench_wait_sock "$sock" || pm_fail "null milter $name is not listening on $sock"
}

# Start postmeter with no limits (every message is counted): bench_pm NAME SOCKET.
bench_pm() {
    local name=$1 sock=$2 conf=$PM_TMP/$1.conf
    cat >"$conf" <<EOF
milter: { socket = "$sock"; socket_mode = 0666; };
user = "";
redis: { host = "127.0.0.1"; port = $PM_REDIS_PORT; key_prefix = "pmbench"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
EOF
    "$BENCH_BIN/postmeter" -n -c "$conf" >/dev/null 2>&1 || pm_fail "postmeter -n rejects $conf"
    bench_bg "$name" "$BENCH_BIN/postmeter" -c "$conf" -f
    printf -v "PID_$name" '%s' "$BG_PID"
    bench_wait_sock "$sock" || pm_fail "postmeter $name is not listening on $sock"
}

# Resident set size of a process in kB (VmRSS), or 0.
bench_rss() {
    awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null
}

# Threads of a process, or 0.
bench_threads() {
    awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# Write and start a private Postfix relaying to a private smtp-sink.
# One smtpd per setup: bench_postfix_start "NAME=MILTER" ... (MILTER "" = none);
# sets PF_PORT_<NAME>, PF_DIR.
bench_postfix_start() {
    local spec name milter port sink_port
    PF_DIR=$PM_TMP/postfix
    sink_port=$(pm_free_port)
    bench_bg sink smtp-sink -u nobody "127.0.0.1:$sink_port" 256
    pm_wait_port "$sink_port" || pm_fail "smtp-sink is not listening"
    chmod 711 "$PM_TMP"
    mkdir -p "$PF_DIR/etc" "$PF_DIR/queue" "$PF_DIR/data"
    chmod 711 "$PF_DIR"
    chown postfix "$PF_DIR/data"
    cat >"$PF_DIR/etc/main.cf" <<EOF
# Private benchmark instance: nothing here touches /etc/postfix or the system queue.
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bench.test
mydomain = bench.test
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sink_port
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
maillog_file = $PF_DIR/maillog
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
message_size_limit = 209715200
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_client_connection_count_limit = 0
milter_protocol = 6
milter_default_action = tempfail
EOF
    : >"$PF_DIR/etc/master.cf"
    for spec in "$@"; do
        name=${spec%%=*}
        milter=${spec#*=}
        port=$(pm_free_port)
        printf -v "PF_PORT_$name" '%s' "$port"
        echo "127.0.0.1:$port inet n - n - - smtpd -o smtpd_milters=$milter" >>"$PF_DIR/etc/master.cf"
    done
    cat >>"$PF_DIR/etc/master.cf" <<EOF
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
    pm_on_exit "bench_postfix_stop"
    (umask 022 && postfix -c "$PF_DIR/etc" start) >"$PM_TMP/postfix-start.log" 2>&1 || {
        cat "$PM_TMP/postfix-start.log" "$PF_DIR/maillog" >&2 2>/dev/null
        pm_fail "the private postfix did not start"
    }
    for spec in "$@"; do
        name=${spec%%=*}
        port=PF_PORT_$name
        pm_wait_port "${!port}" 200 || pm_fail "postfix is not listening on ${!port}"
    done
}

# Stop the private Postfix (bounded: the master is killed if it lingers).
bench_postfix_stop() {
    local pid tries=100
    [ -f "$PF_DIR/etc/main.cf" ] || return 0
    pid=$(tr -d ' ' <"$PF_DIR/queue/pid/master.pid" 2>/dev/null)
    postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
        while ((tries-- > 0)) && kill -0 "$pid" 2>/dev/null; do
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
}

# Messages still in the private queue.
bench_queue_count() {
    find "$PF_DIR/queue/maildrop" "$PF_DIR/queue/incoming" "$PF_DIR/queue/active" \
        "$PF_DIR/queue/deferred" "$PF_DIR/queue/hold" -type f 2>/dev/null | wc -l
}

# Wait (at most about 120 s) until the queue is empty; 1 if it never is.
bench_drain() {
    local tries=1200
    while ((tries-- > 0)); do
        [ "$(bench_queue_count)" -eq 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# Count of messages relayed to the sink so far.
bench_sent_count() {
    grep -c 'status=sent' "$PF_DIR/maillog" 2>/dev/null || true
}

# Median of numbers on stdin.
bench_median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# A field key=value from a line of key=value pairs: bench_field KEY <<< LINE.
bench_field() {
    tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}
