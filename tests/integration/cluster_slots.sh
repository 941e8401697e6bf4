#!/bin/bash
# cluster_slots.sh - policy/cluster_slot.c against a real Redis Cluster.
#
# Six nodes on loopback (3 primaries, 3 replicas, tests/lib/cluster.sh).
# For 1,000 generated keys (plain, tagged, empty and nested braces) the
# module's slot equals CLUSTER KEYSLOT; the map parsed from CLUSTER SLOTS
# sends each key to the primary that accepts its SET (no MOVED), and the
# primaries then hold exactly those keys. After redis-cli --cluster reshard
# moves 100 slots from one primary to another, the map read again shows
# exactly those 100 slots changed owner, from the one to the other, on every
# node; a SET of a key of each moved slot to its old owner answers MOVED,
# which the module parses to that slot and its new owner; and the 1,000 keys
# go again to the primaries that accept them.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

TOOL=$top_builddir/tests/tools/slotcli
pm_need "$TOOL" redis-server redis-cli
PM_FAIL_LOGS="$PM_TMP/cl*/log"

pm_cluster_start 3 1
P=${PM_CLUSTER_PORTS[0]}

# Print the number of keys the primaries hold in all.
keys_held() {
    local port n=0
    for port in "${PM_CLUSTER_PORTS[@]}"; do
        redis-cli -p "$port" ROLE | head -n 1 | grep -q master &&
            n=$((n + $(redis-cli -p "$port" DBSIZE)))
    done
    echo "$n"
}

# (a) slots of 1,000 keys
pm_assert_eq "keys=1000 agree=1000" "$("$TOOL" -p "$P" keyslots 1000)" "slots against CLUSTER KEYSLOT"

# (b) the map routes every key to the primary that takes it
"$TOOL" -p "$P" map >"$PM_TMP/before.map" || pm_fail "no map"
pm_assert_eq 16384 "$(awk '$2 != "-"' "$PM_TMP/before.map" | wc -l)" "slots covered"
pm_assert_eq 3 "$(awk '{ print $2 }' "$PM_TMP/before.map" | sort -u | wc -l)" "primaries in the map"
# the split of --cluster create: 0-5460, 5461-10922, 10923-16383
pm_assert_eq "0 5461 10923" "$(awk '$2 != prev { printf "%s%s", sep, $1; sep = " " } { prev = $2 }' \
    "$PM_TMP/before.map")" "first slot of each primary's range"
pm_assert_eq "keys=1000 ok=1000 moved=0 other=0 per=333,331,336" "$("$TOOL" -p "$P" set 1000)" \
    "SETs routed by the map"
pm_assert_eq 1000 "$(keys_held)" "keys on the primaries"

# (c) reshard 100 slots from the owner of slot 0 to the owner of slot 16383
FROM=$(awk '$1 == 0 { sub(/.*:/, "", $2); print $2 }' "$PM_TMP/before.map")
TO=$(awk '$1 == 16383 { sub(/.*:/, "", $2); print $2 }' "$PM_TMP/before.map")
pm_cluster_reshard "$FROM" "$TO" 100
for port in "${PM_CLUSTER_PORTS[@]}"; do
    "$TOOL" -p "$port" map >"$PM_TMP/after-$port.map" || pm_fail "no map from $port"
    cmp -s "$PM_TMP/after-$P.map" "$PM_TMP/after-$port.map" ||
        pm_fail "the maps of nodes $P and $port differ"
done
pm_assert_eq "100 127.0.0.1:$FROM 127.0.0.1:$TO" "$(paste -d ' ' "$PM_TMP/before.map" \
    "$PM_TMP/after-$P.map" | awk '$2 != $4 { n++; from[$2]; to[$4] }
        END { for (f in from) nf++; for (t in to) nt++; if (nf == 1 && nt == 1) print n, f, t; else print n, "many" }')" \
    "slots moved, from, to"
pm_assert_eq "changed=100 moved=100 agree=100 other=0" "$("$TOOL" -p "$P" moved "$PM_TMP/before.map")" \
    "MOVED answers of the old owner"
pm_assert_eq "keys=1000 ok=1000 moved=0 other=0" "$("$TOOL" -p "$P" set 1000 | sed 's/ per=.*//')" \
    "SETs routed by the new map"
pm_assert_eq 1000 "$(keys_held)" "keys on the primaries after the reshard"
echo "PASS: cluster_slots"
