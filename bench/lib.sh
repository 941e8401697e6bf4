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
# The incident signals are off: one sender sending thousands of messages a
# minute is a burst, and its messages would be held, not counted.
bench_pm() {
    local name=$1 sock=$2 conf=$PM_TMP/$1.conf
    cat >"$conf" <<EOF
milter: { socket = "$sock"; socket_mode = 0666; };
user = "";
redis: { host = "127.0.0.1"; port = $PM_REDIS_PORT; key_prefix = "pmbench"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
incidents: { enabled = false; };
EOF
    "$BENCH_BIN/postmeter" -n -c "$conf" >/dev/null 2>&1 || pm_fail "postmeter -n rejects $conf"
    bench_bg "$name" "$BENCH_BIN/postmeter" -c "$conf" -f
    bench_wait_sock "$sock" || pm_fail "postmeter $name is not listening on $sock"
    # the process started supervises; the milter (its memory, its CPU) is its child
    printf -v "PID_$name" '%s' "$(bench_child "$BG_PID")"
}

# Start Rspamd's milter, self-scanning with its ratelimit module alone, on the
# private redis-server: bench_rspamd NAME SOCKET...; sets PID_<NAME> (the main
# process) and RSP_DIR. Its rspamd_proxy workers, one per core (Debian's
# default is one), serve every SOCKET (unix:PATH or inet:PORT@ADDR). The
# configuration, local.d, override.d, databases, log and temporary files are
# in $PM_TMP/NAME: the top-level file includes Debian's stock pieces (options,
# logging, the proxy worker, the redis and ratelimit modules), no rules, no C
# filter and no other Lua plugin. Its one limit (per SMTP sender) never blocks.
bench_rspamd() {
    local name=$1 dir=$PM_TMP/$1 s binds='' tries
    local -a user=()
    shift
    # shellcheck disable=SC2034 # read by bench/run
    RSP_DIR=$dir
    command -v rspamd >/dev/null || pm_fail "rspamd is not installed (packages.list: bench rspamd)"
    mkdir -p "$dir/local.d" "$dir/override.d" "$dir/db" "$dir/log" "$dir/run" "$dir/tmp"
    # as root, the workers run as _rspamd: they must reach their directories
    if [ "$(id -u)" = 0 ]; then
        user=(-u _rspamd -g _rspamd)
        chmod 711 "$PM_TMP"
        chown _rspamd:_rspamd "$dir/db" "$dir/log" "$dir/run" "$dir/tmp"
    fi
    for s in "$@"; do
        case $s in
        unix:*) binds+="\"${s#unix:} mode=0666\", " ;;
        inet:*@*)
            s=${s#inet:}
            binds+="\"${s#*@}:${s%@*}\", "
            ;;
        esac
    done
    sed 's/^        //' >"$dir/rspamd.conf" <<'CONF'
        # Rspamd for bench/run: the milter proxy, self-scanning with ratelimit alone.
        options {
            pidfile = "$RUNDIR/rspamd.pid";
            .include "$CONFDIR/options.inc"
            .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
            .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/options.inc"
        }
        logging {
            type = "file";
            filename = "$LOGDIR/rspamd.log";
            .include "$CONFDIR/logging.inc"
            .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/logging.inc"
            .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/logging.inc"
        }
        worker "rspamd_proxy" {
            .include "$CONFDIR/worker-proxy.inc"
            .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/worker-proxy.inc"
            .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/worker-proxy.inc"
        }
        .include "$CONFDIR/metrics.conf"
        .include "$CONFDIR/actions.conf"
        .include "$CONFDIR/modules.d/redis.conf"
        .include "$CONFDIR/modules.d/ratelimit.conf"
        modules {
            path = "$PLUGINSDIR/ratelimit.lua";
        }
CONF
    # no C filter (chartable, dkim, regexp, fuzzy_check), nothing outside $dir, DNS to nowhere
    printf '%s\n' 'filters = "";' "tempdir = \"$dir/tmp\";" "hs_cache_dir = \"$dir/db\";" \
        'local_addrs = [];' 'dns { nameserver = ["127.0.0.1:1"]; }' >"$dir/override.d/options.inc"
    printf '%s\n' "bind_socket = [${binds%, }];" "count = $(nproc);" >"$dir/override.d/worker-proxy.inc"
    printf '%s\n' 'upstream "local" {' '    self_scan = yes;' '}' >"$dir/local.d/worker-proxy.inc"
    printf '%s\n' "servers = \"127.0.0.1:$PM_REDIS_PORT\";" >"$dir/local.d/redis.conf"
    printf '%s\n' 'rates {' '    sender {' "        selector = \"from('smtp'):addr\";" \
        '        bucket = { burst = 1000000000; rate = "1000000000 / 1s"; }' '    }' '}' \
        >"$dir/local.d/ratelimit.conf"
    bench_bg "$name" rspamd -f -c "$dir/rspamd.conf" "${user[@]}" \
        --var "LOCAL_CONFDIR=$dir" --var "DBDIR=$dir/db" --var "LOGDIR=$dir/log" \
        --var "RUNDIR=$dir/run"
    printf -v "PID_$name" '%s' "$BG_PID"
    # loading takes seconds (TLD list, hyperscan): ready when every worker has started
    for ((tries = 0; tries < 1200; tries++)); do
        s=$(grep -cs 'starting rspamd_proxy process' "$dir/log/rspamd.log")
        [ "${s:-0}" -ge "$(nproc)" ] && break
        kill -0 "$BG_PID" 2>/dev/null ||
            pm_fail "rspamd exited: $(tail -n 3 "$PM_TMP/$name.log" "$dir/log/rspamd.log" 2>/dev/null)"
        sleep 0.1
    done
    for s in "$@"; do
        bench_wait_sock "$s" || pm_fail "rspamd $name is not listening on $s"
    done
}

# CPU time (user + system) in clock ticks of process $1 and its children, or 0.
bench_cpu_tree() {
    local p t=0 n
    # shellcheck disable=SC2046 # the children's pids, one word each
    for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        n=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) && t=$((t + ${n:-0}))
    done
    echo "$t"
}

# The machine's CPU time as "busy total" in clock ticks, all cores (/proc/stat:
# busy = user nice system irq softirq; total adds idle and iowait; steal left out).
bench_sys() {
    awk '$1 == "cpu" { b = $2 + $3 + $4 + $7 + $8; print b, b + $5 + $6; exit }' /proc/stat
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
