#!/bin/bash
# incidents.sh - the incident signals of the meter script
# (policy/meter_incident.lua, meter.lua; feedback.lua's hard bounces per hour)
# against a private redis-server, through the real store (pm_store_redis_new),
# driven by tests/tools/scriptcli: one table per signal, each alone on both
# sides of its threshold with the exact figures, the incident state (hash,
# index, ids, held, until), the digest's limit hits, a dry run, and a normal
# busy sender that never trips one.
#   burst        floor 50, x10: the 50th message in 10 minutes goes, the 51st
#                opens the incident and is itself held; the multiple of the
#                usual rate (7 days before today) when it is above the floor;
#   retry_storm  50 refusals in 10 minutes pass, the 51st opens it;
#   bounce_spike 20 matched hard bounces in 24 hours pass, 21 open it at the
#                next message; unmatched ones never count;
#   fanout       40 new recipient domains in an hour pass, 41 open it; known
#                domains never count; no fan-out before a week of history;
#   new_network  a login from a new /24 halves the thresholds for 24 hours,
#                and never opens an incident alone.
# Every state is written by the scripts themselves; the test writes only the
# test clock key (through scriptcli's "at") and reads keys to check them.
#
# SPDX-License-Identifier: BSD-2-Clause

source "$top_srcdir/tests/lib/common.sh"
source "$top_srcdir/tests/lib/scripts.sh"

CLI="$top_builddir/tests/tools/scriptcli"
pm_need "$CLI"
pm_redis_start

P=pmt
D=86400
B=1900800000     # a store time that starts a UTC day: day 22000
T=$((B + 36000)) # 10:00 UTC of day 22000
DAY=22000

# Rows "commit SENDER incq=PFX<i> REST" for i in $2..$3 (sender $1, queue id
# prefix $4, the rest of the row $5).
rows() {
    local i
    for i in $(seq "$2" "$3"); do
        echo "commit $1 incq=$4$i $5"
    done
}

# Thresholds: burst 50 x10, fanout 40, retry 50, bounce 20, new network 30 days x0.5.
DEF=50,10,40,50,20,30,50

# =============================================================================
# burst: the floor. A new sender (no usual rate): the 50th message in 10
# minutes goes and counts, the 51st opens the incident, is held (not
# counted) and is the first of ids; the next ones are held too.
run_table burst < <(
    echo "set inc=2 incc=1 incr=1 inct=$DEF"
    echo "at $T"
    rows bu@t.test 1 49 q "=> counted=1 inc=0,0"
    echo "commit bu@t.test incq=q50 => counted=1 inc=0,0 used=50,50,0,0,0,0,0"
    echo "commit bu@t.test incq=q51 => counted=0 inc=2,1 sig=burst by=postmeter at=$T until=0 ids=q51 fig=51_messages_in_10_minutes;_usual_0.0_per_10_minutes;_floor_50,_x10 used=50,50,0,0,0,0,0"
    echo "commit bu@t.test incq=q52 => counted=0 inc=1,2 sig=burst ids=q51,q52 used=50,50,0,0,0,0,0"
    # a probe (RCPT TO of a message to hold: not one more message) reports it, counts nothing
    echo "probe bu@t.test incc=0 => counted=0 inc=1,2 sig=burst"
    for f in at=$T by=postmeter held=2 signal=burst until=0; do
        echo "read HGET $(key bu@t.test inc) ${f%%=*} => reply=${f#*=}"
    done
    echo "read ZSCORE $(PM_KEY_PREFIX=$P pm_key company t.test incidents) bu@t.test => reply=$T"
    echo "read TTL $(key bu@t.test inc) => reply=-1"
    # ids keep the first 10 queue ids; held counts on
    rows bu@t.test 53 62 q "=> counted=0"
    echo "commit bu@t.test incq=q63 => inc=1,13 ids=q51,q52,q53,q54,q55,q56,q57,q58,q59,q60"

    # the 10 minutes: the current minute and the 9 before it
    echo "at $T"
    rows bw@t.test 1 50 q "=> counted=1 inc=0,0"
    echo "at $((T + 540))"
    echo "commit bw@t.test incq=x => counted=0 inc=2,1 sig=burst"
    echo "at $T"
    rows bx@t.test 1 50 q "=> counted=1 inc=0,0"
    echo "at $((T + 600))"
    echo "commit bx@t.test incq=x => counted=1 inc=0,0"
    echo "read EXISTS $(key bx@t.test inc) => reply=0"

    # a signal switched off (threshold 0) opens nothing
    echo "at $T"
    rows bo@t.test 1 60 q "inct=0,10,40,50,20,30,50 => counted=1 inc=0,0"

    # max_hours 2: until is set, the key expires then, and the sender is free
    echo "at $((T + 3 * 3600))"
    rows bh@t.test 1 50 q "inch=2 => counted=1 inc=0,0"
    echo "commit bh@t.test inch=2 incq=h51 => counted=0 inc=2,1 until=$((T + 3 * 3600 + 7200))"
    echo "read TTL $(key bh@t.test inc) => reply~^(7200|7199)$"
    echo "at $((T + 3 * 3600 + 7200))"
    echo "commit bh@t.test inch=2 incq=h52 => counted=1 inc=0,0"

    # dry (a dry run, learning): detected, nothing opened, the message counts
    echo "at $T"
    rows bd@t.test 1 50 q "inc=3 => counted=1 inc=0,0"
    echo "commit bd@t.test inc=3 incq=d51 => counted=1 inc=3,0 sig=burst fig=51_messages_in_10_minutes;_usual_0.0_per_10_minutes;_floor_50,_x10"
    echo "read EXISTS $(key bd@t.test inc) => reply=0"
    echo "read ZSCORE $(PM_KEY_PREFIX=$P pm_key company t.test incidents) bd@t.test => reply=nil"
)

# burst: the multiple. 144 messages a day for the 7 days before (the signal
# off then): usual 1.0 per 10 minutes; with x100 the threshold is 100, above
# the floor: the 100th message goes, the 101st opens the incident.
run_table burst_multiple < <(
    # the history: a signal on (rates are kept only then), a floor never reached
    echo "set inc=2 incc=1 incr=1 inct=1000000,10,0,0,0,0,50"
    for d in 0 1 2 3 4 5 6; do
        echo "at $((T + d * D))"
        rows bm@t.test 1 144 "h$d-" ""
    done
    echo "at $((T + 7 * D))"
    rows bm@t.test 1 100 q "inct=50,100,0,0,0,0,50 => counted=1 inc=0,0"
    echo "commit bm@t.test inct=50,100,0,0,0,0,50 incq=q101 => counted=0 inc=2,1 sig=burst fig=101_messages_in_10_minutes;_usual_1.0_per_10_minutes;_floor_50,_x100"
    # signals all off: no rates kept; a probe that fits writes nothing either
    echo "commit off@t.test inct=0,10,0,0,0,0,50 => counted=1 inc=0,0"
    echo "read EXISTS $(key off@t.test ir) => reply=0"
    echo "probe pf@t.test inct=50,10,0,0,0,0,50 => fits=1 inc=0,0"
    echo "read EXISTS $(key pf@t.test ir) => reply=0"
)

# =============================================================================
# retry_storm: refusals (a request the script refuses: messages_per_hour 1
# used up). 50 refusals in 10 minutes pass, the 51st opens the incident. A
# refusal the engine does not count (incr=0: not the first of its message)
# does not count; each counted refusal is also the digest's limit hit, and
# so are those a server decided without asking, carried by a request (incl).
run_table retry_storm < <(
    echo "set inc=2 incc=0 incr=1 inct=$DEF lim=1,0,0,0,0,0,0"
    echo "at $T"
    echo "commit rs@t.test => fits=1 counted=1 inc=0,0"
    for i in $(seq 1 49); do echo "probe rs@t.test => fits=0 over=s:mh inc=0,0"; done
    echo "probe rs@t.test incr=0 => fits=0 inc=0,0"
    echo "commit rs@t.test incc=1 incq=r50 => fits=0 counted=0 inc=0,0"
    echo "read HGET $(PM_KEY_PREFIX=$P pm_key company t.test hits:$DAY) rs@t.test|messages_per_hour => reply=50"
    echo "probe rs@t.test incc=1 incq=r51 => fits=0 inc=2,1 sig=retry_storm ids=r51 fig=51_refusals_in_10_minutes;_threshold_50"
    echo "read HGET $(PM_KEY_PREFIX=$P pm_key company t.test hits:$DAY) rs@t.test|messages_per_hour => reply=51"
    echo "read TTL $(PM_KEY_PREFIX=$P pm_key company t.test hits:$DAY) => reply~^(259200|259199)$"
    # in incident: refusals are the incident's, not the limit's
    echo "probe rs@t.test => inc=1,1"
    echo "read HGET $(PM_KEY_PREFIX=$P pm_key company t.test hits:$DAY) rs@t.test|messages_per_hour => reply=51"
    # refusals a server decided without asking (incl, limit inclc) count as
    # well, whether or not the request carrying them is refused itself
    echo "commit rl@t.test => counted=1"
    echo "probe rl@t.test incl=49 inclc=0 => fits=0 inc=0,0"
    echo "read HGET $(PM_KEY_PREFIX=$P pm_key company t.test hits:$DAY) rl@t.test|messages_per_hour => reply=50"
    echo "probe rl@t.test incc=1 incq=l51 => fits=0 inc=2,1 sig=retry_storm fig=51_refusals_in_10_minutes;_threshold_50"
    echo "probe rf@t.test lim=0,0,0,0,0,0,0 incl=3 inclc=7 => fits=1 inc=0,0"
    echo "read HGET $(PM_KEY_PREFIX=$P pm_key company t.test hits:$DAY) rf@t.test|warmup_day => reply=3"
    # refusals leave the 10 minutes: 50 in one minute, 1 ten minutes later
    echo "at $T"
    echo "commit rt@t.test => counted=1"
    for i in $(seq 1 50); do echo "probe rt@t.test => fits=0 inc=0,0"; done
    echo "at $((T + 600))"
    echo "probe rt@t.test => fits=0 inc=0,0"
)

# =============================================================================
# bounce_spike: bounce reports with a matched hard failure (feedback.lua) in
# 24 hours. 20 pass, the 21st opens the incident at the sender's next
# message; a bounce for an address the sender never mailed is unmatched and
# never counts; one report naming many failures counts once (one forged
# report cannot trip it); "b:" fields past 24 hours are deleted.
run_table bounce_spike < <(
    echo "set inc=2 incc=1 incr=1 inct=$DEF"
    echo "at $T"
    echo "commit hb@t.test to=$(seq -s, -f 'x%g' 1 30) => counted=1 inc=0,0"
    for i in $(seq 1 20); do echo "bounce hb@t.test x$i:hard => res=hard"; done
    echo "bounce hb@t.test nobody1:hard nobody2:hard => res=unmatched,unmatched"
    echo "read HGET $(key hb@t.test ir) b:$((T / 3600)) => reply=20"
    echo "commit hb@t.test incq=b1 => counted=1 inc=0,0"
    echo "bounce hb@t.test x21:hard => res=hard"
    echo "commit hb@t.test incq=b2 => counted=0 inc=2,1 sig=bounce_spike ids=b2 fig=21_hard_bounces_in_24_hours;_threshold_20"
    # 24 hours later the bounces have left the window
    echo "at $T"
    echo "commit hc@t.test to=$(seq -s, -f 'x%g' 1 30) => counted=1"
    for i in $(seq 1 21); do echo "bounce hc@t.test x$i:hard => res=hard"; done
    echo "at $((T + D))"
    echo "commit hc@t.test incq=c1 => counted=1 inc=0,0"
    echo "commit hc@t.test to=y1,y2 => counted=1 inc=0,0"
    echo "bounce hc@t.test y1:hard y2:hard => res=hard,hard"
    echo "read HGET $(key hc@t.test ir) b:$(((T + D) / 3600)) => reply=1"
    echo "read HEXISTS $(key hc@t.test ir) b:$((T / 3600)) => reply=0"
    echo "at $T"
    echo "commit hd@t.test to=z1,z2,z3 => counted=1"
    echo "bounce hd@t.test z1:hard z2:hard z3:hard => res=hard,hard,hard"
    echo "read HGET $(key hd@t.test ir) b:$((T / 3600)) => reply=1"
)

# =============================================================================
# fanout: new recipient domains (not mailed in 30 days) in an hour, once the
# sender has a week of history. Day 0: 5 domains; day 7: those 5 do not
# count, 40 new ones pass, the 41st opens the incident.
run_table fanout < <(
    K5=k1.test,k2.test,k3.test,k4.test,k5.test
    echo "set inc=2 incc=1 incr=1 inct=$DEF"
    echo "at $T"
    echo "commit fa@t.test incd=$K5 => counted=1 inc=0,0"
    echo "at $((T + 7 * D))"
    echo "commit fa@t.test incd=$K5 => counted=1 inc=0,0"
    for i in $(seq 1 40); do echo "commit fa@t.test incd=n$i.test,k1.test => counted=1 inc=0,0"; done
    echo "commit fa@t.test incd=n40.test => counted=1 inc=0,0"
    echo "commit fa@t.test incq=f41 incd=n41.test => counted=0 inc=2,1 sig=fanout fig=41_new_recipient_domains_in_an_hour;_threshold_40"
    # a sender without a week of history: every domain is new, nothing trips
    echo "at $T"
    for i in $(seq 1 45); do echo "commit fy@t.test incd=y$i.test => counted=1 inc=0,0"; done
    echo "read HLEN $(key fy@t.test dom) => reply=46" # and the day sweep's state (prelude.lua)
)

# =============================================================================
# new_network: a SASL login from a /24 unused for 30 days, once the sender has
# a week of history, lowers the thresholds by x0.5 for 24 hours (burst floor
# 25); alone it opens nothing. A known network changes nothing.
run_table new_network < <(
    NEW=198.51.100.0/24
    echo "set inc=2 incc=1 incr=1 inct=$DEF"
    echo "at $T"
    echo "commit nn@t.test incn=192.0.2.0/24 => counted=1 inc=0,0"
    echo "commit nk@t.test incn=192.0.2.0/24 => counted=1 inc=0,0"
    echo "at $((T + 7 * D))"
    # the new network alone: 20 messages, nothing opens
    rows nn@t.test 1 20 q "incn=$NEW => counted=1 inc=0,0"
    echo "read HGET $(key nn@t.test ir) nn => reply=$((T + 7 * D))"
    echo "at $((T + 7 * D + 3600))"
    rows nn@t.test 1 25 r "incn=$NEW => counted=1 inc=0,0"
    echo "commit nn@t.test incn=$NEW incq=n26 => counted=0 inc=2,1 sig=burst+new_network fig=26_messages_in_10_minutes;_usual_0.0_per_10_minutes;_floor_25,_x10;_new_network_198.51.100.0/24,_thresholds_x0.5"
    # the known network: the floor stays 50
    rows nk@t.test 1 50 q "incn=192.0.2.0/24 => counted=1 inc=0,0"
    echo "commit nk@t.test incn=192.0.2.0/24 incq=k51 => counted=0 inc=2,1 sig=burst"
)

# =============================================================================
# a normal busy sender: 45 messages every 10 minutes for 8 hours a day, two
# days, to the same 20 known domains from its usual network: nothing trips.
run_table busy < <(
    echo "set inc=2 incc=1 incr=1 inct=$DEF"
    echo "at $((T - 7 * D))"
    echo "commit busy@t.test incd=$(seq -s, -f 'c%g.test' 1 20) incn=192.0.2.0/24 => inc=0,0"
    for d in 0 1; do
        for s in $(seq 0 47); do
            echo "at $((T + d * D + s * 600))"
            for i in $(seq 1 45); do
                echo "commit busy@t.test incd=c$((i % 20 + 1)).test,c$(((i + 7) % 20 + 1)).test incn=192.0.2.0/24 => counted=1 inc=0,0"
            done
        done
    done
    echo "read EXISTS $(key busy@t.test inc) => reply=0"
)

echo "PASS: incidents"
