#!/bin/bash
# scripts.sh - case tables of the Redis scripts through tests/tools/scriptcli:
# source it after common.sh, with CLI (scriptcli's path) and P (the key
# prefix) set and pm_redis_start done.
#
# SPDX-License-Identifier: BSD-2-Clause

# Run the table of stdin (name $1) in one scriptcli with options $2...: every
# command in order against one store, then every expectation of each row
# checked against that row's answer.
run_table() {
    local name=$1 table=$PM_TMP/$1.table out=$PM_TMP/$1.out i row cmd want got kv k v
    local -a rows answers words wants
    local -A field
    shift
    cat >"$table"
    mapfile -t rows < <(grep -Ev '^[[:space:]]*(#|$)' "$table")
    for row in "${rows[@]}"; do
        echo "${row%%=>*}"
    done | "$CLI" -p "$PM_REDIS_PORT" -x "$P" "$@" >"$out" 2>"$PM_TMP/$name.err" ||
        pm_fail "$name: scriptcli failed: $(cat "$PM_TMP/$name.err")"
    mapfile -t answers <"$out"
    pm_assert_eq "${#rows[@]}" "${#answers[@]}" "$name: answers"
    for i in "${!rows[@]}"; do
        row=${rows[$i]} got=${answers[$i]}
        cmd=${row%%=>*}
        [[ $got == error* ]] && pm_fail "$name row $((i + 1)): $cmd: $got"
        [[ $row == *=\>* ]] || continue
        field=()
        read -r -a words <<<"$got" # split, never globbed
        for kv in "${words[@]}"; do
            field[${kv%%=*}]=${kv#*=}
        done
        read -r -a wants <<<"${row#*=>}"
        for want in "${wants[@]}"; do
            if [[ $want == *=* ]]; then
                k=${want%%=*} v=${want#*=}
                [ "${field[$k]-}" = "$v" ] && continue
            else
                k=${want%%\~*} v=${want#*\~}
                [[ ${field[$k]-} =~ $v ]] && continue
            fi
            pm_fail "$name row $((i + 1)): $cmd: expected $want, got $k=${field[$k]-(none)} in: $got"
        done
    done
}

# The key $2 of sender $1 (pm_key, of prefix $P).
key() {
    PM_KEY_PREFIX=$P pm_key "$1" "$2"
}
