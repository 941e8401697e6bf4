# shellcheck shell=bash
# lib.sh - setup helpers for bench/run: milters, a private Postfix, samplers.
#
# Sourced by bench/run after tests/lib/common.sh (which gives $PM_TMP, free
# ports, the private redis-server and the exit trap) and tests/lib/postfix_conf.sh
# (the private Postfix's directories, main.cf, services, start and stop).
# Every process started here is registered with pm_on_exit and stopped at
# exit by its pid.
#
# SPDX-License-Identifier: BSD-2-Clause

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
    bench_wait_sock "$sock" || pm_fail "postmeter $name is not listening on $sock"
    # the process started supervises; the milter (its memory, its CPU) is its child
    printf -v "PID_$name" '%s' "$(bench_child "$BG_PID")"
}

# The only child of process $1 (the milter process of a postmeter), else $1.
bench_child() {
    local kids
    kids=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
    # shellcheck disable=SC2086 # one pid, or several words
    set -- "$1" $kids
    [ $# = 2 ] && echo "$2" || echo "$1"
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
    pm_pf_dirs "$PF_DIR"
    {
        pm_pf_main_cf "$PF_DIR" mx.bench.test "$sink_port"
        cat <<EOF
message_size_limit = 209715200
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_client_connection_count_limit = 0
EOF
    } >"$PF_DIR/etc/main.cf"
    : >"$PF_DIR/etc/master.cf"
    for spec in "$@"; do
        name=${spec%%=*}
        milter=${spec#*=}
        port=$(pm_free_port)
        printf -v "PF_PORT_$name" '%s' "$port"
        echo "127.0.0.1:$port inet n - n - - smtpd -o smtpd_milters=$milter" >>"$PF_DIR/etc/master.cf"
    done
    pm_pf_services >>"$PF_DIR/etc/master.cf"
    pm_on_exit "pm_pf_stop $PF_DIR"
    pm_pf_start "$PF_DIR"
    for spec in "$@"; do
        name=${spec%%=*}
        port=PF_PORT_$name
        pm_wait_port "${!port}" 200 || pm_fail "postfix is not listening on ${!port}"
    done
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
