# cluster.sh - a private Redis Cluster on loopback for integration tests.
#
# Source it after common.sh. pm_cluster_start starts 3 primaries and 3
# replicas (by default) on free ports, each with its own cluster bus port
# (the default, port + 10000, may be taken on a shared machine) and
# directory under $PM_TMP, joins them with redis-cli --cluster create and
# waits (bounded) until every node reports cluster_state:ok and every replica
# its link to its primary up. The nodes stop when the test exits. A node
# is taken for failed after PM_CLUSTER_NODE_TIMEOUT ms (15000: a node starved
# of CPU on a shared machine is not failed over; a failover test sets less).
#
# SPDX-License-Identifier: BSD-2-Clause

PM_CLUSTER_PORTS=()

# Print a free port that no node of this cluster uses yet (bounded tries).
pm_cluster_port() {
    local p used=" ${PM_CLUSTER_USED:-} "
    for _ in $(seq 1 20); do
        p=$(pm_free_port) || return 1
        case $used in
        *" $p "*) ;;
        *)
            PM_CLUSTER_USED="${PM_CLUSTER_USED:-} $p"
            echo "$p"
            return 0
            ;;
        esac
    done
    return 1
}

# Start cluster node $1 (a number) on fresh ports, trying again (3 times) on
# another pair when a port was taken meanwhile; appends its port to PM_CLUSTER_PORTS.
pm_cluster_node_start() {
    local i=$1 dir port bus a
    for a in 1 2 3; do
        if ! port=$(pm_cluster_port) || ! bus=$(pm_cluster_port); then
            pm_fail "no free port for node $i"
        fi
        # a directory per attempt: a late first attempt cannot share the second's files
        dir=$PM_TMP/cl$i.$a
        mkdir -p "$dir"
        redis-server --port "$port" --cluster-port "$bus" --bind 127.0.0.1 \
            --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
            --cluster-node-timeout "${PM_CLUSTER_NODE_TIMEOUT:-15000}" --dir "$dir" --save '' \
            --appendonly no --daemonize yes --pidfile "$dir/pid" --logfile "$dir/log" || continue
        # answering PING from this node's directory means both ports are bound (the
        # bus comes first) by this node, not by another test's server on the same port
        if pm_wait_port "$port" && redis-cli -p "$port" CONFIG GET dir 2>/dev/null | grep -qx "$dir"; then
            PM_CLUSTER_PORTS+=("$port")
            return 0
        fi
        kill -9 "$(cat "$dir/pid" 2>/dev/null)" 2>/dev/null
    done
    pm_fail "cluster node $i did not start: $(tail -n 3 "$dir/log")"
}

# Start a cluster of $1 primaries (3) with $2 replicas each (1); sets PM_CLUSTER_PORTS.
pm_cluster_start() {
    local primaries=${1:-3} replicas=${2:-1} n i addrs=()
    pm_need redis-server redis-cli
    n=$((primaries * (1 + replicas)))
    pm_on_exit pm_cluster_stop
    for ((i = 1; i <= n; i++)); do
        pm_cluster_node_start "$i"
        addrs+=("127.0.0.1:${PM_CLUSTER_PORTS[i - 1]}")
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes \
        >"$PM_TMP/cluster-create.log" 2>&1 ||
        pm_fail "redis-cli --cluster create failed: $(tail -n 5 "$PM_TMP/cluster-create.log")"
    pm_cluster_wait_ok 300 || pm_fail "the cluster is not ok after 30 s"
    export PM_CLUSTER_PORTS
}

# Wait (bounded, $1 tenths of a second, default 300) until every node says
# cluster_state:ok and every replica has its primary's link up.
pm_cluster_wait_ok() {
    local tries=${1:-300} port ok
    while ((tries-- > 0)); do
        ok=1
        for port in "${PM_CLUSTER_PORTS[@]}"; do
            redis-cli -p "$port" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
            redis-cli -p "$port" INFO replication 2>/dev/null | grep -q '^role:slave' &&
                ! redis-cli -p "$port" INFO replication | grep -q '^master_link_status:up' && ok=0
        done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    return 1
}

# Wait (bounded, 30 s) until redis-cli --cluster check finds every node agreeing.
pm_cluster_wait_agree() {
    for _ in $(seq 1 300); do
        redis-cli --cluster check "127.0.0.1:${PM_CLUSTER_PORTS[0]}" 2>/dev/null |
            grep -q 'All nodes agree about slots configuration' && return 0
        sleep 0.1
    done
    return 1
}

# Stop every node of the cluster (TERM, then KILL after 5 s).
pm_cluster_stop() {
    local dir pid pids=()
    for dir in "$PM_TMP"/cl*; do
        pid=$(cat "$dir/pid" 2>/dev/null) && kill "$pid" 2>/dev/null && pids+=("$pid")
    done
    for _ in $(seq 1 100); do
        kill -0 "${pids[@]}" 2>/dev/null || break
        sleep 0.05
    done
    for pid in "${pids[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
}

# redis-cli on the cluster, following redirections (redis-cli -c).
pm_ccli() {
    redis-cli -c -p "${PM_CLUSTER_PORTS[0]}" "$@"
}

# Print the node id of the node on port $1.
pm_cluster_id() {
    redis-cli -p "$1" CLUSTER MYID
}

# Move $3 slots from the primary on port $1 to the primary on port $2 and
# wait until every node agrees.
pm_cluster_reshard() {
    redis-cli --cluster reshard "127.0.0.1:$1" --cluster-from "$(pm_cluster_id "$1")" \
        --cluster-to "$(pm_cluster_id "$2")" --cluster-slots "$3" --cluster-yes \
        >"$PM_TMP/cluster-reshard.log" 2>&1 ||
        pm_fail "redis-cli --cluster reshard failed: $(tail -n 5 "$PM_TMP/cluster-reshard.log")"
    pm_cluster_wait_agree || pm_fail "the nodes disagree on the slots after a reshard"
}

# 0 when the primary on port $1 serves the slot of key $2 (answers without MOVED).
pm_cluster_serves() {
    redis-cli -p "$1" EXISTS "$2" 2>/dev/null | grep -qx '[0-9][0-9]*'
}

# Set PRIMARIES to the ports of the primaries, checking there are $1 of them.
pm_cluster_primaries() {
    local port
    PRIMARIES=()
    for port in "${PM_CLUSTER_PORTS[@]}"; do
        redis-cli -p "$port" ROLE | head -n 1 | grep -qx master && PRIMARIES+=("$port")
    done
    pm_assert_eq "$1" "${#PRIMARIES[@]}" "primaries"
}

# Set DOMAINS to a company per primary of PRIMARIES: d<i>.example with the
# first i (of 200) whose keys under prefix $1 the primary serves.
pm_cluster_domains() {
    local port i found
    DOMAINS=()
    for port in "${PRIMARIES[@]}"; do
        found=
        for i in $(seq 1 200); do
            if pm_cluster_serves "$port" "$1:v2:{d$i.example}:x"; then
                found=d$i.example
                break
            fi
        done
        [ -n "$found" ] || pm_fail "no domain found for the primary on port $port"
        DOMAINS+=("$found")
    done
}

# Move slot $1 with its keys from the primary on port $2 to the primary on
# port $3 (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE on every
# live primary) and wait until the nodes agree.
pm_cluster_move_slot() {
    local slot=$1 from=$2 to=$3 fid tid keys port
    fid=$(pm_cluster_id "$from")
    tid=$(pm_cluster_id "$to")
    redis-cli -p "$to" CLUSTER SETSLOT "$slot" IMPORTING "$fid" | grep -qx OK || pm_fail "SETSLOT IMPORTING $slot"
    redis-cli -p "$from" CLUSTER SETSLOT "$slot" MIGRATING "$tid" | grep -qx OK || pm_fail "SETSLOT MIGRATING $slot"
    for _ in $(seq 1 1000); do
        mapfile -t keys < <(redis-cli -p "$from" CLUSTER GETKEYSINSLOT "$slot" 100)
        [ "${#keys[@]}" -gt 0 ] && [ -n "${keys[0]}" ] || break
        redis-cli -p "$from" MIGRATE 127.0.0.1 "$to" "" 0 5000 KEYS "${keys[@]}" | grep -qx OK ||
            pm_fail "MIGRATE of slot $slot"
    done
    for port in "${PM_CLUSTER_PORTS[@]}"; do
        redis-cli -p "$port" ROLE 2>/dev/null | head -n 1 | grep -qx master &&
            redis-cli -p "$port" CLUSTER SETSLOT "$slot" NODE "$tid" >/dev/null
    done
    pm_cluster_wait_agree || pm_fail "the nodes disagree on the slots after moving slot $slot"
}
