# common.sh - shared shell helpers for postmeter's integration tests.
#
# Source it from a test script. It provides a per-test temporary directory
# (removed on exit), free loopback ports, a private redis-server, and the
# skip/fail rule: a missing tool skips the test (exit 77) in a package build,
# but fails it (exit 99) when POSTMETER_TEST_STRICT=1, as CI sets.
#
# SPDX-License-Identifier: BSD-2-Clause

set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

PM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/postmeter-test.XXXXXX")
PM_CLEANUPS=()

# Run every registered cleanup, newest first, then remove the temp directory.
pm_cleanup() {
    local i
    for ((i = ${#PM_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${PM_CLEANUPS[$i]}" >/dev/null 2>&1 || true
    done
    rm -rf "$PM_TMP"
}
trap pm_cleanup EXIT
trap 'exit 130' INT TERM

# Register a shell command to run at exit.
pm_on_exit() {
    PM_CLEANUPS+=("$1")
}

# Log files (a glob, expanded at the failure) whose last lines pm_fail shows first.
PM_FAIL_LOGS=

# Fail the test with a message, after the end of the logs in PM_FAIL_LOGS.
pm_fail() {
    local f
    for f in $PM_FAIL_LOGS; do
        [ -f "$f" ] && tail -n 20 "$f" >&2
    done
    echo "FAIL: $*" >&2
    exit 1
}

# Skip (77) when a tool is missing, unless strict mode turns that into a failure.
pm_need() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
            if [ "${POSTMETER_TEST_STRICT:-0}" = 1 ]; then
                echo "ERROR: required tool '$tool' is missing" >&2
                exit 99
            fi
            echo "SKIP: '$tool' is not installed" >&2
            exit 77
        fi
    done
}

# Print a free TCP port on 127.0.0.1.
pm_free_port() {
    python3 - <<'PY' 2>/dev/null || pm_free_port_fallback
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# Pick a port from a random range when python3 is absent.
pm_free_port_fallback() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        if ! (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Wait (bounded) until a TCP port on 127.0.0.1 accepts connections.
pm_wait_port() {
    local port=$1 tries=${2:-100}
    while ((tries-- > 0)); do
        (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# Wait (bounded) until a file (e.g. a unix socket) exists.
pm_wait_file() {
    local f=$1 tries=${2:-100}
    while ((tries-- > 0)); do
        [ -e "$f" ] && return 0
        sleep 0.05
    done
    return 1
}

# Wait (bounded, $3 tenths of a second, default 50) until file $2 has a line
# matching regex $1 (grep -E).
pm_wait_grep() {
    local tries=${3:-50}
    while ((tries-- > 0)); do
        grep -qE -- "$1" "$2" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Start a private redis-server on a free loopback port; sets PM_REDIS_PORT.
# Extra redis-server arguments (--aclfile FILE, ...) from the array PM_REDIS_ARGS.
pm_redis_start() {
    pm_need redis-server redis-cli
    PM_REDIS_PORT=${1:-$(pm_free_port)}
    mkdir -p "$PM_TMP/redis"
    redis-server --port "$PM_REDIS_PORT" --bind 127.0.0.1 --dir "$PM_TMP/redis" \
        --save '' --appendonly no --daemonize yes \
        --pidfile "$PM_TMP/redis/redis.pid" --logfile "$PM_TMP/redis/redis.log" \
        ${PM_REDIS_ARGS[@]+"${PM_REDIS_ARGS[@]}"} ||
        pm_fail "redis-server did not start"
    pm_on_exit "pm_redis_stop"
    pm_wait_port "$PM_REDIS_PORT" || pm_fail "redis-server is not listening on $PM_REDIS_PORT"
    export PM_REDIS_PORT
}

# Stop the private redis-server (kill -9 when asked for a crash).
pm_redis_stop() {
    local sig=${1:-TERM} pid
    pid=$(cat "$PM_TMP/redis/redis.pid" 2>/dev/null) || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    rm -f "$PM_TMP/redis/redis.pid"
}

# 1 once the replica of the primary on port $1 acknowledged every write it
# took (bounded, 5 s: a replica acknowledges each second), else 0. WAIT on a
# connection of redis-cli's own would wait for nothing: it wrote nothing.
pm_redis_replicated() {
    local info off ack
    for _ in $(seq 1 50); do
        info=$(redis-cli -p "$1" INFO replication | tr -d '\r')
        off=$(echo "$info" | awk -F: '$1 == "master_repl_offset" { print $2 }')
        ack=$(echo "$info" | grep -E '^slave0:' | sed -n 's/.*,offset=\([0-9]*\).*/\1/p')
        [ -n "$off" ] && [ -n "$ack" ] && [ "$ack" -ge "$off" ] && echo 1 && return 0
        sleep 0.1
    done
    echo 0
}

# redis-cli against the private server.
pm_rcli() {
    redis-cli -h 127.0.0.1 -p "$PM_REDIS_PORT" "$@"
}

# The name of one of postmeter's Redis keys (tests/tools/keycli, i.e.
# policy/store_redis_keys.c), of prefix $PM_KEY_PREFIX (pmtest) in layout
# $PM_LAYOUT (2, what a new install runs; 1 for data of layout 1):
#   pm_key SENDER KIND             a sender's key (w, ct, rep, tx:ID, ...)
#   pm_key domain D KIND           a domain's (w, wu, ct)
#   pm_key sup COMPANY ADDRESS     a suppression entry
#   pm_key company COMPANY WHAT    top:DAY, incidents, hits:DAY
#   pm_key global WHAT             clock, learning, digest:DAY, supx, srv[:ID], co
#   pm_key layout | base           <prefix>:layout, <prefix>:v<layout>:
pm_key() {
    case $1 in
    sender | domain | sup | company | global | layout | base | v2of) ;;
    *) set -- sender "$@" ;;
    esac
    "$top_builddir/tests/tools/keycli" "${PM_KEY_PREFIX:-pmtest}" "${PM_LAYOUT:-2}" "$@"
}

# Wait (bounded: 5 s) until the company registry (pm_key global co) holds
# company $1 announced at store time $2 or later (default: any time). A
# daemon announces the companies it metered about a second after the first
# message of the store day, off the mail path: readers that go over every
# company (top, incident list, the digest) see a new company then.
pm_wait_registry() {
    local tries=50 key score
    key=$(PM_LAYOUT=2 pm_key global co)
    while ((tries-- > 0)); do
        score=$(pm_rcli ZSCORE "$key" "$1")
        [ -n "$score" ] && [ "${score%.*}" -ge "${2:-0}" ] && return 0
        sleep 0.1
    done
    return 1
}

# Set the test clock offset (seconds added to Redis's time) to $1; more
# arguments go to SET (EX 3600).
pm_clock_set() {
    pm_rcli SET "$(pm_key global clock)" "$@" >/dev/null
}

# Remove the test clock offset.
pm_clock_del() {
    pm_rcli DEL "$(pm_key global clock)" >/dev/null
}

# Write a postmeter config for tests into $1; extra libconfig text from stdin,
# extra settings of the redis group from $PM_REDIS_EXTRA, of the milter group
# from $PM_MILTER_EXTRA; redis.test_clock is $PM_TEST_CLOCK (true unless set;
# false runs as production does, never reading the clock key). The incident
# signals are off unless the text configures incidents: tests drive senders far
# harder than people send (a hundred messages in seconds), which is a burst.
pm_write_conf() {
    local file=$1 extra
    extra=$(cat)
    {
        cat <<EOF2
milter: { socket = "${PM_MILTER_SOCKET:-unix:$PM_TMP/postmeter.sock}"; ${PM_MILTER_EXTRA:-} };
user = "";
redis: { host = "127.0.0.1"; port = ${PM_REDIS_PORT:-6379}; key_prefix = "pmtest"; test_clock = ${PM_TEST_CLOCK:-true};
         ${PM_REDIS_EXTRA:-} };
EOF2
        case $'\n'$extra in
        *$'\n'incidents:*) ;;
        *) echo 'incidents: { enabled = false; };' ;;
        esac
        printf '%s\n' "$extra"
    } >"$file"
}

# Write a random 32-byte secret (a contacts key) into file $1, mode 0600:
# postmeter refuses a secret file that others can read.
pm_secret_file() {
    (umask 077 && head -c 32 /dev/urandom >"$1")
}

# The user a process runs as (its effective uid), from /proc: no procps needed.
pm_proc_user() {
    id -nu "$(awk '/^Uid:/ { print $3 }' "/proc/$1/status")"
}

# Assert two values are equal.
pm_assert_eq() {
    [ "$1" = "$2" ] || pm_fail "${3:-values differ}: expected '$1', got '$2'"
}

# Start postmeter daemon $1 with the test config plus extra libconfig text
# from stdin: socket $PM_TMP/$1.sock, log $PM_TMP/$1.log. Sets PM_LAST_PID.
pm_milter_start() {
    local name=$1 pm=$top_builddir/postmeter
    PM_MILTER_SOCKET="unix:$PM_TMP/$name.sock" pm_write_conf "$PM_TMP/$name.conf"
    "$pm" -n -c "$PM_TMP/$name.conf" >"$PM_TMP/$name.check" 2>&1 ||
        pm_fail "postmeter -n rejects the config of $name: $(cat "$PM_TMP/$name.check")"
    "$pm" -c "$PM_TMP/$name.conf" -f 2>"$PM_TMP/$name.log" &
    PM_LAST_PID=$!
    pm_on_exit "kill $PM_LAST_PID"
    pm_wait_file "$PM_TMP/$name.sock" ||
        pm_fail "postmeter $name did not start: $(cat "$PM_TMP/$name.log")"
}

# Print the values of keys $2... (space-separated) in pmdrive's summary line,
# the first line of file $1 ("-": standard input).
pm_summary() {
    local line k vals=()
    line=$(head -n 1 -- "$1")
    shift
    for k; do
        vals+=("$(tr ' ' '\n' <<<"$line" | sed -n "s/^$k=//p")")
    done
    echo "${vals[*]}"
}

# Print the sum of key $1 over the summary lines (pm_summary) of files $2...
pm_sum() {
    local key=$1 f total=0
    shift
    for f in "$@"; do
        total=$((total + $(pm_summary "$f" "$key")))
    done
    echo "$total"
}

# Start postmeter ($PM) servers 1..$1 from $PM_TMP/pm<n>.conf, each checked
# with -n first, logging to $PM_TMP/pm<n>.log, and wait for their sockets
# $PM_TMP/pm<n>.sock; their pids go into PIDS.
pm_start_servers() {
    local n
    PIDS=()
    for n in $(seq 1 "$1"); do
        "$PM" -n -c "$PM_TMP/pm$n.conf" >"$PM_TMP/check.out" 2>&1 ||
            pm_fail "postmeter -n rejects the test config: $(cat "$PM_TMP/check.out")"
        "$PM" -c "$PM_TMP/pm$n.conf" -f 2>"$PM_TMP/pm$n.log" &
        PIDS+=($!)
        pm_on_exit "kill -9 $!"
    done
    for n in $(seq 1 "$1"); do
        pm_wait_file "$PM_TMP/pm$n.sock" || pm_fail "postmeter $n did not create its socket"
    done
}

# Print how many replies in pmdrive outputs $2... carry a text matching regex $1.
pm_replies_matching() {
    local re=$1
    shift
    cat "$@" | awk -v re="$re" '
        /^reply / { n = $2; t = $0; sub(/^reply [0-9]+ /, "", t); if (t ~ re) s += n }
        END { print s + 0 }'
}

# Stop postmeter $1 with SIGTERM and check that it exits 0 within 10 s (label $2);
# libmilter notices a stop request only every few seconds.
pm_stop_clean() {
    local pid=$1 label=$2 rc=0
    kill -TERM "$pid"
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && pm_fail "$label ignores SIGTERM"
    wait "$pid" || rc=$?
    pm_assert_eq 0 "$rc" "$label exit status after SIGTERM"
}
