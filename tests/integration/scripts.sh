#!/bin/bash
# scripts.sh - postmeter's Redis scripts (policy/*.lua) against a private
# redis-server, through the real store (pm_store_redis_new), driven by
# tests/tools/scriptcli: one table of cases per concern, each row an
# operation at a given store time and the exact figures it must answer.
#   warm-up    meter_warmup.lua, warmup_state.lua, warmup.lua: stage 0, one
#              stage per active day, the bounce-rate and reputation holds,
#              dormancy, day and hour caps (UTC and local days), the end of
#              the curve, a company-wide curve, reset and skip;
#   credits    meter_credits.lua, grants.lua, credit.lua: what may spend,
#              earliest expiry first, expiry, probe, force, revoke, the cap
#              of 100 live grants, the movements log;
#   windows    meter_windows.lua, meter_contacts.lua, prelude.lua: internal
#              counters, first contacts (nd), contact memory (also learned
#              from mail, feedback.lua), company-wide contacts, the contacts
#              bound, force and soft scopes (store.sh walks the four outgoing
#              counters at bucket boundaries, other bucket lengths, the
#              domain scope, the totals: not repeated here);
#   reputation meter_reputation.lua, feedback.lua, prelude.lua: levels 0..4,
#              min_sends, halved limits, the brakes, which bounces count,
#              the suppression entry, replies and learned contacts, the
#              7-day window and the hash's 8 days;
#   replyrate  meter.lua, meter_reputation.lua, feedback.lua: first contacts
#              and their replies over 30 days, once per recipient, the brake;
#   plans      meter_base.lua: plan overrides, idempotence (transaction
#              ids); meter.lua's Message-IDs and their bound, and the
#              references of a fake reply checked against them (refs_gate);
#   top        top.lua: the daily top index;
#   agetrim    prelude.lua: the day hashes (mid, fc, dom) swept by age, a
#              page a call; meter.lua, feedback.lua: a Message-ID past its
#              days makes no reply, swept or not;
#   bench      bench/script-ab's calls follow the contract.
# Every state is written by the scripts themselves; the test writes only the
# test clock key (through scriptcli's "at") and reads keys to check them.
#
# A table row is "COMMAND => EXPECTED...", EXPECTED being NAME=VALUE (exact)
# or NAME~REGEX; a row without "=>" must not answer an error.
#
# SPDX-License-Identifier: BSD-2-Clause

source "$top_srcdir/tests/lib/common.sh"
source "$top_srcdir/tests/lib/scripts.sh"

CLI="$top_builddir/tests/tools/scriptcli"
pm_need "$CLI" redis-benchmark
pm_redis_start

P=pmt
D=86400
B=1900800000 # a store time that starts a UTC day: day 22000

# N recipient names $1..$2 with prefix $3: "r1,r2,...".
names() {
    seq -s, -f "$3%g" "$1" "$2"
}

# =============================================================================
# warm-up: meter_warmup.lua (the stages and caps), warmup_state.lua, warmup.lua
# (reset and skip through pm_store_warmup_set). Curve: day caps 3, 5, 8 with
# hour caps 2, 3, 8; the plan's own limits are none unless a row sets them.
T=$((B + 36000)) # 10:00 UTC of day 22000
run_table warmup <<EOF
set curve=3:2,5:3,8:8
# stage 0 on the first message
at $T
probe wa@t.test => fits=1 counted=0 wu=1,0,3,2,0,0
commit wa@t.test => fits=1 counted=1 wu=1,0,3,2,1,0 used=1,1,0,0,0,0,0
commit wa@t.test => fits=1 counted=1 wu=1,0,3,2,2,0 used=2,2,0,0,0,0,0
# the hour cap (2): the 3rd message waits until the first minute's bucket leaves the hour
commit wa@t.test => fits=0 counted=0 over=s:warmup_hour over_limit=2 over_used=2 retry_at=$((T + 3660)) wu=1,0,3,2,2,0
at $((T + 3659))
probe wa@t.test => fits=0 over=s:warmup_hour retry_at=$((T + 3660))
at $((T + 3660))
commit wa@t.test => fits=1 counted=1 wu=1,0,3,2,3,0 used=1,3,0,0,0,0,0
# the day cap (3): the 4th message waits for the next midnight; more than the cap: never
commit wa@t.test => fits=0 counted=0 over=s:warmup_day over_limit=3 over_used=3 retry_at=$((B + D)) wu=1,0,3,2,3,0
probe wa@t.test m=4 => fits=0 over=s:warmup_day over_limit=3 over_used=3 retry_at=-1
# internal mail spends no warm-up
commit wa@t.test m=0 i=1 => fits=1 counted=1 wu=1,0,3,2,3,0 used=1,3,0,0,0,1,1
# one stage per active sending day: a probe moves nothing, nor do days without mail
at $((B + D + 36000))
commit wa@t.test => fits=1 counted=1 wu=1,1,5,3,1,0
at $((B + 2 * D + 36000))
probe wa@t.test => wu=1,2,8,8,0,0
at $((B + 4 * D + 36000))
probe wa@t.test => wu=1,2,8,8,0,0
commit wa@t.test => counted=1 wu=1,2,8,8,1,0
read HGETALL $(key wa@t.test wu) => reply=last=22004,stage=2,start=22000,today=1
# past the curve's end (stage 3 of 3) the plan's limits apply alone
at $((B + 5 * D + 36000))
commit wa@t.test lim=2 => fits=1 counted=1 wu=0,3,0,0,1,0
commit wa@t.test lim=2 => fits=1 counted=1 wu=0,3,0,0,2,0
commit wa@t.test lim=2 => fits=0 counted=0 over=s:mh over_limit=2 over_used=2 wu=0,3,0,0,2,0
commit wa@t.test => fits=1 counted=1 wu=0,3,0,0,3,0

# dormancy (30 days): 29 days of silence move the stage on, 30 restart it
at $((B + 36000))
commit wd@t.test => wu=1,0,3,2,1,0
read TTL $(key wd@t.test wu) => reply~^(2678400|2678399)$
at $((B + 29 * D + 36000))
commit wd@t.test => wu=1,1,5,3,1,0
at $((B + 59 * D + 36000))
commit wd@t.test => wu=1,0,3,2,1,0
read HGETALL $(key wd@t.test wu) => reply=last=22059,stage=0,start=22059,today=1
# dormant_days = 2
at $((B + 36000))
commit wd2@t.test dormant=2 => wu=1,0,3,2,1,0
at $((B + D + 36000))
commit wd2@t.test dormant=2 => wu=1,1,5,3,1,0
at $((B + 3 * D + 36000))
commit wd2@t.test dormant=2 => wu=1,0,3,2,1,0

# the bounce-rate hold: the stage holds while the hard bounces of the last 7
# days are above max_ppm (10 %), whatever reputation.min_sends (1000 here:
# the reputation level stays 0); a bounce is recorded by the feedback script
set maxppm=100000 rep=1000,20000,30000,50000,100000
at $((B + 3600))
commit wb@t.test to=$(names 1 10 x) => counted=1 wu=1,0,3,2,1,0 rep=0,0,0,0,0,0
bounce wb@t.test x1 => res=hard
at $((B + D + 3600))
# 1 of 10 = 100000 ppm, not above max_ppm: the stage moves on
commit wb@t.test to=y1 => counted=1 wu=1,1,5,3,1,100000 rep=10,1,0,0,100000,0
bounce wb@t.test x2 => res=hard
at $((B + 2 * D + 3600))
# 2 of 11: held
commit wb@t.test to=y2 => counted=1 wu=1,1,5,3,1,181818 rep=11,2,0,0,181818,0
at $((B + 7 * D + 3600))
# day 0's sends and bounce left the window: 1 of 2 (days 1, 2), still held
probe wb@t.test => wu=1,1,5,3,0,500000 rep=2,1,0,0,500000,0
at $((B + 8 * D + 3600))
# and day 1's: 0 of 1, the stage moves on
commit wb@t.test to=y3 => counted=1 wu=1,2,8,8,1,0 rep=1,0,0,0,0,0

# reputation level 2 (halved limits) holds the stage whatever max_ppm; level 1 does not
set maxppm=1000000 rep=1,0,50000,0,0
at $((B + 3600))
commit wr@t.test to=$(names 1 10 x) => counted=1 wu=1,0,3,2,1,0
bounce wr@t.test x1 => res=hard
at $((B + D + 3600))
commit wr@t.test to=y1 => counted=1 wu=1,0,3,2,1,100000 rep=10,1,0,0,100000,2
set rep=1,50000,0,0,0
at $((B + 3600))
commit ww@t.test to=$(names 1 10 x) => counted=1 wu=1,0,3,2,1,0
bounce ww@t.test x1 => res=hard
at $((B + D + 3600))
commit ww@t.test to=y1 => counted=1 wu=1,1,5,3,1,100000 rep=10,1,0,0,100000,1
set maxppm=30000 rep=0,0,0,0,0

# local days: UTC+8 (the day turns at 16:00 UTC)
set curve=1:1,2:2 off=28800
at $((B + 36000))
commit wz@t.test => fits=1 counted=1 wu=1,0,1,1,1,0
at $((B + 57599))
commit wz@t.test => fits=0 counted=0 over=s:warmup_day over_limit=1 over_used=1 retry_at=$((B + 57600))
at $((B + 57600))
commit wz@t.test => fits=1 counted=1 wu=1,1,2,2,1,0
# UTC-5: at 01:00 UTC it is still the day before; the day cap frees up at 05:00
# UTC, after the hour cap's retry, and is the one reported (it frees up last)
set off=-18000
at $((B + 3600))
commit wn@t.test => fits=1 counted=1 wu=1,0,1,1,1,0
at $((B + 7200))
commit wn@t.test => fits=0 counted=0 over=s:warmup_day retry_at=$((B + 18000))
read HGET $(key wn@t.test wu) last => reply=21999
# UTC, at 23:30: both caps over; the hour's retry (00:31) is later than midnight
set off=0
at $((B + D - 1800))
commit wh@t.test => fits=1 counted=1 wu=1,0,1,1,1,0
commit wh@t.test => fits=0 counted=0 over=s:warmup_hour over_limit=1 over_used=1 retry_at=$((B + D + 1860))

# a company-wide curve: the domain's warm-up caps every sender of the domain
set curve=- dcurve=2:2
at $((B + 3600))
commit a@wdom.test,wdom.test => fits=1 counted=1 wu=0,0,0,0,0,0 dwu=1,0,2,2,1,0
commit b@wdom.test,wdom.test => fits=1 counted=1 dwu=1,0,2,2,2,0
commit c@wdom.test,wdom.test => fits=0 counted=0 over=d:warmup_day over_limit=2 over_used=2 retry_at=$((B + D)) dwu=1,0,2,2,2,0
at $((B + D + 3600))
commit c@wdom.test,wdom.test dcurve=2:2,4:4 => fits=1 counted=1 dwu=1,1,4,4,1,0

# NOTE: a company-wide stage moves on (or holds) by the reputation of the
# sender whose message is the company's first of the day (meter_warmup.lua
# reads the request's sender's bounce rate for every scope): here a sender
# with 1 bounce in 10 holds the company's stage for the day, while a clean
# colleague's message would have moved it on. Documented as "the sender's
# hard-bounce rate"; asserted as it stands.
set dcurve=2:2,4:4,6:6
at $((B + 3600))
commit bad@wdom2.test,wdom2.test to=$(names 1 10 x) => counted=1 dwu=1,0,2,2,1,0
bounce bad@wdom2.test x1 => res=hard
at $((B + D + 3600))
probe good@wdom2.test,wdom2.test => dwu=1,1,4,4,0,0
commit bad@wdom2.test,wdom2.test => counted=1 dwu=1,0,2,2,1,100000
commit good@wdom2.test,wdom2.test => counted=1 dwu=1,0,2,2,2,0

# reset and skip (pm_store_warmup_set, warmup.lua)
set curve=3:2,5:3,8:8 dcurve=-
at $((B + 3600))
commit wk@wk.test => wu=1,0,3,2,1,0
at $((B + D + 3600))
commit wk@wk.test => wu=1,1,5,3,1,0
warmup wk@wk.test reset => had=1 day=22001
read EXISTS $(key wk@wk.test wu) => reply=0
warmup wk@wk.test reset => had=0 day=22001
probe wk@wk.test => wu=1,0,3,2,0,0
commit wk@wk.test => wu=1,0,3,2,1,0
# skip to stage 2: today's cap is stage 2's, today's count starts again
warmup wk@wk.test 2 => had=1 day=22001
read HGETALL $(key wk@wk.test wu) => reply=last=22001,stage=2,start=22001,today=0
read TTL $(key wk@wk.test wu) => reply~^(2678400|2678399)$
probe wk@wk.test => wu=1,2,8,8,0,0
commit wk@wk.test => wu=1,2,8,8,1,0
# and the curve moves on from there: past its end
at $((B + 2 * D + 3600))
commit wk@wk.test => counted=1 wu=0,3,0,0,1,0
# skip past the end
warmup wk@wk.test 7 => had=1 day=22002
probe wk@wk.test => fits=1 wu=0,7,0,0,0,0
# skip on a local day (UTC-2: still day 22001), kept 2 days
warmup wk@wk.test 0 off=-7200 keep=172800 => had=1 day=22001
read TTL $(key wk@wk.test wu) => reply~^(172800|172799)$
probe wk@wk.test off=-7200 => wu=1,0,3,2,0,0
# in UTC it is the next day already: the stage moves on
probe wk@wk.test => wu=1,1,5,3,0,0
# a domain's warm-up
warmup d:wk.test 1 => had=0 day=22002
read HGETALL $(PM_KEY_PREFIX=$P pm_key domain "wk.test" wu) => reply=last=22002,stage=1,start=22002,today=0
probe x@wk.test,wk.test curve=- dcurve=4:4,6:6 => dwu=1,1,6,6,0,0
warmup d:wk.test reset => had=1 day=22002
probe x@wk.test,wk.test curve=- dcurve=4:4,6:6 => dwu=1,0,4,4,0,0
EOF

# =============================================================================
# credits: credit.lua grants and revokes (pm_store_credit_add/revoke),
# meter_credits.lua spends, grants.lua is their layout and log
T=$((B + 3600))
run_table credits <<EOF
at $T
credits ca@t.test => grants=0 moves=0 g=- mv=- mvt=-
grant ca@t.test m=2 note=first => result=1 now=$T expires=0 msgs=2 rcpts=0
grant ca@t.test m=1 r=3 in=7200 note=soon => result=2 expires=$((T + 7200)) msgs=1 rcpts=3
grant ca@t.test r=5 exp=$((T + D)) => result=3 expires=$((T + D)) msgs=0 rcpts=5
# an expiry already past grants nothing (absolute and relative)
grant ca@t.test m=9 exp=$T => result=0 expires=$T msgs=0 rcpts=0
grant ca@t.test m=9 in=-1 => result=0 expires=$((T - 1)) msgs=0 rcpts=0
credits ca@t.test => grants=3 moves=3 g=1:2:0:0:2:0,2:1:3:$((T + 7200)):1:3,3:0:5:$((T + D)):0:5 mv=grant:0:5:$((T + D)):,grant:1:3:$((T + 7200)):soon,grant:2:0:0:first mvt=$T,$T,$T
read TTL $(key ca@t.test cr) => reply~^(34560000|34559999)$
set lim=1,0,2
# within the limits: nothing spent, the grants not even looked at
commit ca@t.test to=c1 => fits=1 counted=1 cr=0,0,0,0 used=1,1,1,1,1,0,0
# over the hourly messages: one message credit, from the grant expiring first
# (2); a probe only looks: what it would spend, and what there is
probe ca@t.test to=c2 => fits=1 counted=0 over=- cr=1,0,3,8
credits ca@t.test => grants=3 moves=3 g=1:2:0:0:2:0,2:1:3:$((T + 7200)):1:3,3:0:5:$((T + D)):0:5
commit ca@t.test to=c2 => fits=1 counted=1 over=- cr=1,0,2,8 used=2,2,2,2,2,0,0
credits ca@t.test => grants=3 moves=4 g=1:2:0:0:2:0,2:0:3:$((T + 7200)):1:3,3:0:5:$((T + D)):0:5 mv=spend:1:0:0:,grant:0:5:$((T + D)):,grant:1:3:$((T + 7200)):soon,grant:2:0:0:first
# over messages and recipients: a message credit (from 1, the only one left)
# and a recipient credit per recipient (from 2, expiring first)
commit ca@t.test to=c3 => fits=1 counted=1 cr=1,1,1,7 used=3,3,3,3,3,0,0
commit ca@t.test to=c4,c5 => fits=1 counted=1 cr=1,2,0,5 used=4,4,5,5,5,0,0
credits ca@t.test => grants=3 moves=6 g=1:0:0:0:2:0,2:0:0:$((T + 7200)):1:3,3:0:5:$((T + D)):0:5 mv~^spend:1:2:0:,spend:1:1:0:,spend:1:0:0:,grant:
# no message credit left: refused, nothing spent, what is left reported
commit ca@t.test to=c6 => fits=0 counted=0 over=s:mh over_limit=1 over_used=4 cr=0,0,0,5
# a force counts anyway, and spends when the credits do cover it
force ca@t.test to=c6 => fits=0 counted=1 cr=0,0,0,5 used=5,5,6,6,6,0,0
grant ca@t.test m=1 r=1 in=60 => result=4 expires=$((T + 60))
force ca@t.test to=c7 => fits=1 counted=1 cr=1,1,0,5 used=6,6,7,7,7,0,0
grant ca@t.test m=1 r=1 in=60 => result=5 expires=$((T + 60))
# at its expiry a grant no longer counts
at $((T + 60))
probe ca@t.test to=c8 => fits=0 over=s:mh cr=0,0,0,5
at $((T + 59))
probe ca@t.test to=c8 => fits=1 cr=1,1,1,6
# revoke: what was left of it; a grant revoked or never made: 0
revoke ca@t.test 5 note=bye => result=1 expires=$((T + 60)) msgs=1 rcpts=1
revoke ca@t.test 5 => result=0 expires=0 msgs=0 rcpts=0
revoke ca@t.test 99 => result=0
credits ca@t.test => grants=4 moves=10 mv~^revoke:1:1:$((T + 60)):bye,grant:1:1:$((T + 60)):,spend:1:1:0:,grant:1:1:$((T + 60)):,spend:1:2:0:,
EOF

# what credits never buy: warm-up caps, a domain's limits, internal mail, a
# request larger than the limit, and anything when one of those is over too;
# what they do: first contacts (nd) with recipient credits, a soft scope's
# excess (fits then, so the plan neither holds nor tags it)
T=$((B + 3600))
run_table credits_scope <<EOF
at $T
grant cw@t.test m=5 r=5 => result=1
commit cw@t.test curve=1:1 => fits=1 counted=1
commit cw@t.test curve=1:1 => fits=0 counted=0 over=s:warmup_day cr=0,0,0,0
grant cd@cd.test m=5 r=5 => result=1
commit cd@cd.test,cd.test dlim=1 => fits=1 counted=1
commit cd@cd.test,cd.test dlim=1 => fits=0 counted=0 over=d:mh cr=0,0,0,0
# over the sender's and the domain's: not even the sender's is bought
commit cd@cd.test,cd.test lim=1 dlim=1 => fits=0 counted=0 over=s:mh cr=0,0,0,0
grant ci@t.test m=5 r=5 => result=1
commit ci@t.test m=0 i=1 lim=0,0,0,0,0,1 => fits=1 counted=1
commit ci@t.test m=0 i=1 lim=0,0,0,0,0,1 => fits=0 counted=0 over=s:ih cr=0,0,0,0
commit ci@t.test m=2 lim=1 => fits=0 counted=0 over=s:mh retry_at=-1 cr=0,0,0,0
commit ci@t.test to=a,b,c lim=0,0,2 => fits=0 counted=0 over=s:rh retry_at=-1 cr=0,0,0,0
# first contacts: recipient credits for the cold recipients only
grant cn@t.test r=5 => result=1
commit cn@t.test to=n1,n2 lim=0,0,0,0,2 => fits=1 counted=1 cold=2 cr=0,0,0,0
commit cn@t.test to=n1,n3 lim=0,0,0,0,2 => fits=1 counted=1 cold=1 over=- cr=0,1,0,4 used=2,2,4,4,3,0,0
# a soft scope's excess is bought too
grant cs@t.test m=1 => result=1
commit cs@t.test lim=1 soft=s => fits=1 counted=1
commit cs@t.test lim=1 soft=s => fits=1 counted=1 cr=1,0,0,0
commit cs@t.test lim=1 soft=s => fits=0 counted=1 over=s:mh cr=0,0,0,0
EOF

# the bound: 100 live grants (more: -1); a full hash drops its spent and
# expired grants; the log keeps 200 movements
T=$((B + 3600))
run_table credits_cap <<EOF
at $T
grant cc@t.test r=1 in=60 => result=1
$(for i in $(seq 2 100); do echo "grant cc@t.test m=1 exp=$((T + 100000 + i)) => result=$i"; done)
grant cc@t.test m=1 => result=-1 msgs=0
# spend grant 2 (the earliest expiry with a message credit)
commit cc@t.test lim=1 => fits=1 cr=0,0,0,0
commit cc@t.test lim=1 => fits=1 counted=1 cr=1,0,98,1
read HGET $(key cc@t.test cr) g:2 => reply=0:0:$((T + 100002)):1:0:$T
# full: the spent grant goes, the new one comes
grant cc@t.test m=1 => result=101
read HEXISTS $(key cc@t.test cr) g:2 => reply=0
credits cc@t.test => grants=100 moves=102
grant cc@t.test m=1 => result=-1
# grant 1 expires: it goes for the next
at $((T + 60))
grant cc@t.test m=1 => result=102
read HEXISTS $(key cc@t.test cr) g:1 => reply=0
read HLEN $(key cc@t.test cr) => reply=101
grant cc@t.test m=1 => result=-1
$(for i in $(seq 3 102); do echo "revoke cc@t.test $i => result=1"; done)
# 203 movements: the 3 oldest (grants 1 to 3) are gone
credits cc@t.test => grants=0 moves=200 g=- mv~^revoke:1:0:0:,revoke:1:0:0:,.*,grant:1:0:$((T + 100004)):$
grant cc@t.test m=1 => result=103
EOF

# =============================================================================
# windows and contacts: meter_windows.lua's internal (ih, id) and first-contact
# (nd) counters at their bucket boundaries, meter_contacts.lua, force and
# soft scopes, idempotence. (store.sh walks mh, md, rh and rd at bucket
# boundaries, other bucket lengths, the domain scope, the modes and the
# totals; not repeated here.)
run_table windows <<EOF
# internal mail: 2 an hour, 3 a day; no outgoing counter moves
set lim=1,1,1,1,1,2,3 m=0 i=1
at $((B + 30))
commit in@t.test => fits=1 counted=1 used=0,0,0,0,0,1,1
commit in@t.test => fits=1 counted=1 used=0,0,0,0,0,2,2
commit in@t.test => fits=0 counted=0 over=s:ih over_limit=2 over_used=2 retry_at=$((B + 3660))
at $((B + 3659))
probe in@t.test => fits=0 over=s:ih used=0,0,0,0,0,2,2
at $((B + 3660))
commit in@t.test => fits=1 counted=1 used=0,0,0,0,0,1,3
commit in@t.test => fits=0 counted=0 over=s:id over_limit=3 over_used=3 retry_at=$((B + 87000))
# more than both limits: both never; the first in counter order is reported
probe in@t.test i=4 => fits=0 over=s:ih over_limit=2 retry_at=-1
at $((B + 86999))
probe in@t.test => fits=0 over=s:id used=0,0,0,0,0,0,3
at $((B + 87000))
probe in@t.test => fits=1 used=0,0,0,0,0,0,1
# a domain's internal limits
commit in@t.test,in.test dlim=0,0,0,0,0,1 => fits=1 counted=1 dused=0,0,0,0,0,1,1
commit in2@t.test,in.test dlim=0,0,0,0,0,1 => fits=0 counted=0 over=d:ih retry_at=$((B + 87000 + 3660))
set m=1 i=0 lim=0

# first contacts: 2 a day
set lim=0,0,0,0,2
at $((B + 300))
commit nd@t.test to=a,b => fits=1 counted=1 cold=2 used=1,1,2,2,2,0,0
commit nd@t.test to=a => fits=1 counted=1 cold=0 used=2,2,3,3,2,0,0
probe nd@t.test to=a,c => fits=0 counted=0 cold=1 over=s:nd over_limit=2 over_used=2 retry_at=$((B + 87000))
commit nd@t.test to=c,d => fits=0 counted=0 cold=2 over=s:nd retry_at=$((B + 87000))
probe nd@t.test to=c,d,e => fits=0 cold=3 over=s:nd retry_at=-1
# cold recipients found before (cold_before) count as well
probe nd@t.test to=a cold=1 => fits=0 cold=1 over=s:nd
probe nd@t.test to=a => fits=1 cold=0
at $((B + 86999))
probe nd@t.test to=c => fits=0 over=s:nd used=0,2,0,3,2,0,0
at $((B + 87000))
commit nd@t.test to=c,d => fits=1 counted=1 cold=2 used=1,1,2,2,2,0,0
# over a soft scope, first contacts still count (and are reported)
commit nd@t.test to=e soft=s => fits=0 counted=1 cold=1 over=s:nd used=2,2,3,3,3,0,0
# force counts whatever, in every scope
force nd@t.test to=f => fits=0 counted=1 cold=1 over=s:nd used=3,3,4,4,4,0,0
set lim=0
force fd@t.test,fd.test dlim=1 => fits=1 counted=1 dused=1,1,0,0,0,0,0
force fe@t.test,fd.test dlim=1 => fits=0 counted=1 over=d:mh over_limit=1 over_used=1 used=1,1,0,0,0,0,0 dused=2,2,0,0,0,0,0

# contact memory: ct_ttl days since the last counted message; a later
# message renews it; mail from a person (feedback.lua) makes its author known
set ctttl=2
at $((B + 3600))
commit ct@t.test to=a,b => cold=2
contact ct@t.test a => ct=22000 lc=-1 dct=-1
at $((B + D + 3600))
commit ct@t.test to=b => cold=0
contact ct@t.test b => ct=22001 lc=-1 dct=-1
at $((B + 2 * D + 3600))
probe ct@t.test to=a => cold=1
probe ct@t.test to=b => cold=0
mail ct@t.test z => res=learned
probe ct@t.test to=z => cold=0
contact ct@t.test z => ct=-1 lc=22002 dct=-1
at $((B + 4 * D + 3600))
probe ct@t.test to=z,b => cold=2
set ctttl=365

# company-wide contacts: a colleague's contact is not cold
at $((B + 3600))
commit c1@cw.test to=q cw=1 => cold=1
probe c2@cw.test to=q cw=1 => cold=0
probe c2@cw.test to=q => cold=1
contact c2@cw.test q => ct=-1 lc=-1 dct=22000
# ... of the company contacts.domain names
commit c3@cw.test to=q2 cw=1 cdom=group.test => cold=1
probe c4@other.test to=q2 cw=1 cdom=group.test => cold=0
contact c4@other.test q2 company=group.test => ct=-1 lc=-1 dct=22000

# the contacts bound (contacts.max_per_sender 100): past it, a write drops the
# expired contacts of a sample, or else the oldest 50 (HLEN counts one field
# more: the day sweep's state, field "", prelude.lua)
at $((B + 3600))
commit cb@t.test to=$(names 1 100 k) ctmax=100 => cold=100
read HLEN $(key cb@t.test ct) => reply=101
at $((B + D + 3600))
commit cb@t.test to=k101 ctmax=100 => cold=1
read HLEN $(key cb@t.test ct) => reply=52
contact cb@t.test k101 => ct=22001
commit cb2@t.test to=$(names 1 100 k) ctmax=100 ctttl=2 => cold=100
at $((B + 3 * D + 3600))
commit cb2@t.test to=k101 ctmax=100 ctttl=2 => cold=1
read HLEN $(key cb2@t.test ct) => reply=2
contact cb2@t.test k101 => ct=22003
EOF

# =============================================================================
# reputation: meter_reputation.lua reads what feedback.lua (bounces, replies)
# and the meter ("s", external recipients sent) write; prelude.lua keeps the
# hash. Thresholds: 50 sends at least; 2 % warn, 3 % halve, 5 % no first
# contact, 10 % stop. Each sender mails 100 recipients, then k of them bounce.
R100=$(names 1 100 r)
run_table reputation <<EOF
set rep=50,20000,30000,50000,100000
at $((B + 3600))
$(for k in 1 2 3 5 10; do
    echo "commit rl$k@t.test to=$R100 => counted=1 rep=0,0,0,0,0,0"
    echo "bounce rl$k@t.test $(seq -s ' ' -f 'r%g' 1 $k) => res=hard$(for ((i = 1; i < k; i++)); do echo -n ,hard; done)"
done)
# level 0 (1 %)
probe rl1@t.test to=r50 => fits=1 rep=100,1,0,0,10000,0
# level 1 (2 %): a warning only
probe rl2@t.test to=r50 => fits=1 rep=100,2,0,0,20000,1
probe rl2@t.test m=6 lim=5 => fits=0 over=s:mh over_limit=5
# level 2 (3 %): the outgoing limits halved (at least 1), not the internal ones
probe rl3@t.test to=r50 => fits=1 rep=100,3,0,0,30000,2
probe rl3@t.test to=new1 => fits=1 cold=1
probe rl3@t.test m=6 lim=5 => fits=0 over=s:mh over_limit=2 retry_at=-1
probe rl3@t.test m=2 lim=1 => fits=0 over=s:mh over_limit=1
probe rl3@t.test m=4 lim=0,7 => fits=0 over=s:md over_limit=3
probe rl3@t.test r=5 lim=0,0,9 => fits=0 over=s:rh over_limit=4
probe rl3@t.test r=6 lim=0,0,0,11 => fits=0 over=s:rd over_limit=5
probe rl3@t.test to=n1,n2 lim=0,0,0,0,3 => fits=0 over=s:nd over_limit=1
probe rl3@t.test m=0 i=5 lim=0,0,0,0,0,5,7 => fits=1
probe rl3@t.test m=0 i=6 lim=0,0,0,0,0,5,7 => fits=0 over=s:ih over_limit=5
probe rl3@t.test m=0 i=6 lim=0,0,0,0,0,0,5 => fits=0 over=s:id over_limit=5
# level 3 (5 %): no first contact; known recipients and internal mail pass;
# a bounced recipient was forgotten: cold again
probe rl5@t.test to=r50 => fits=1 cold=0 rep=100,5,0,0,50000,3
probe rl5@t.test to=new1 => fits=0 cold=1 over=s:rep_cold over_limit=0 over_used=50000 retry_at=-1
probe rl5@t.test to=r1 => fits=0 cold=1 over=s:rep_cold
probe rl5@t.test m=6 lim=5 => fits=0 over=s:mh over_limit=2
# a brake refuses even over a soft scope, and credits do not buy it
commit rl5@t.test to=new1 soft=s => fits=0 counted=0 over=s:rep_cold
grant rl5@t.test m=5 r=5 => result=1
commit rl5@t.test to=new1 => fits=0 counted=0 over=s:rep_cold cr=0,0,0,0
commit rl5@t.test to=r50 => fits=1 counted=1 rep=100,5,0,0,50000,3
commit rl5@t.test m=0 i=1 => fits=1 counted=1
# level 4 (10 %): no external mail at all; internal mail passes
probe rl10@t.test to=r50 => fits=0 over=s:rep_stop over_limit=0 over_used=100000 retry_at=-1 rep=100,10,0,0,100000,4
probe rl10@t.test to=new1 => fits=0 over=s:rep_stop
commit rl10@t.test m=0 i=1 => fits=1 counted=1
# the last 7 UTC days: day 0's sends and bounces leave on day 7
at $((B + 6 * D))
probe rl10@t.test to=r50 => over=s:rep_stop rep=100,10,0,0,100000,4
at $((B + 7 * D))
probe rl10@t.test to=r50 => fits=1 rep=0,0,0,0,0,0
at $((B + 3600))

# min_sends: 40 sends with 10 hard bounces act on nothing; at 50 sends they do
commit rm@t.test to=$(names 1 40 r) => counted=1
bounce rm@t.test $(seq -s ' ' -f 'r%g' 1 10) => res=hard,hard,hard,hard,hard,hard,hard,hard,hard,hard
probe rm@t.test to=r20 => fits=1 rep=40,10,0,0,250000,0
commit rm@t.test to=$(names 41 50 r) => counted=1 rep=40,10,0,0,250000,0
probe rm@t.test to=r20 => fits=0 over=s:rep_stop rep=50,10,0,0,200000,4

# what a bounce counts: once per recipient and sending; a block counts apart;
# a recipient never mailed is unmatched; the suppression entry of a hard
# bounce is the company's, and a probe for that recipient reads it
bounce rl1@t.test zz => res=unmatched
bounce rl1@t.test r1 => res=duplicate
bounce rl1@t.test r60:block r61:hard:5.1.2 r62:block:5.7.26 => res=block,hard,block
bounce rl1@t.test r60:block r61 r60 => res=duplicate,duplicate,duplicate
probe rl1@t.test to=r50 => fits=1 rep=100,2,2,0,20000,1
probe rl1@t.test sup=r61 => sup=$((B + 3600)),5.1.2,rl1@t.test
probe rl1@t.test sup=r60 => sup=-
probe x@other.test sup=r61 => sup=-
# the list is the company's: a colleague sees it, with whose bounce came last
probe rl2@t.test sup=r1 => sup=$((B + 3600)),5.1.1,rm@t.test

# a hard bounce forgets the recipient whichever way it was known (mailed, and
# learned from its own mail)
mail rl1@t.test r70 => res=known
contact rl1@t.test r70 => ct=22000 lc=22000
bounce rl1@t.test r70 => res=hard
contact rl1@t.test r70 => ct=-1 lc=-1

# the bounce window (2 days here): a recipient mailed longer ago is unmatched;
# mailed again, a new bounce counts again
set window=2
at $((B + 3600))
commit rw@t.test to=w1,w2,w3 => counted=1
at $((B + 2 * D))
bounce rw@t.test w1 => res=hard
at $((B + 3 * D))
bounce rw@t.test w2 => res=unmatched
commit rw@t.test to=w1 => counted=1 cold=1
bounce rw@t.test w1 => res=hard
bounce rw@t.test w1 => res=duplicate
probe rw@t.test => rep=4,2,0,0,500000,0
read HGETALL $(key rw@t.test rep) => reply=b:22002=1,b:22003=1,s:22000=3,s:22003=1
set window=14

# replies (a Message-ID the sender sent): counted once per author a day, at
# most replies a day; other mail teaches its author, at most learn a day
set replies=1 learn=1
at $((B + 3600))
commit rr@t.test to=p1,p2 mid=M1 => counted=1
mail rr@t.test p1 refs=nosuch,M1 => res=reply
mail rr@t.test p1 refs=M1 => res=known
mail rr@t.test p2 refs=M1 => res=capped
mail rr@t.test p3 refs=nosuch => res=learned
mail rr@t.test p4 => res=capped
mail rr@t.test p2 => res=known
probe rr@t.test => rep=2,0,0,1,0,0
contact rr@t.test p1 => lc=22000
contact rr@t.test p3 => ct=-1 lc=22000
contact rr@t.test p4 => ct=-1 lc=-1
at $((B + D + 3600))
mail rr@t.test p2 refs=M1 => res=reply
mail rr@t.test p4 => res=learned
probe rr@t.test => rep=2,0,0,2,0,0
read HGETALL $(key rr@t.test rep) => reply=l:22000=1,l:22001=1,r:22000=1,r:22001=1,s:22000=2
# the hash keeps 8 days (the 7 of the window, and today): the first write of
# day 8 drops day 0's fields; day 1's stay, out of the window
at $((B + 8 * D + 3600))
commit rr@t.test to=p1 => counted=1 rep=0,0,0,0,0,0
read HGETALL $(key rr@t.test rep) => reply=l:22001=1,r:22001=1,s:22008=1
read TTL $(key rr@t.test rep) => reply~^(691200|691199)$
set replies=5 learn=5
EOF

# =============================================================================
# the reply rate (meter.lua, meter_reputation.lua, feedback.lua, prelude.lua):
# the meter counts a commit's cold recipients as first contacts ("f", rr) and
# remembers them (fc); a reply (a Message-ID the sender sent) from one of them
# counts once ("y", under the day it was mailed). The brake (rr=min_first,
# min_ppm; off by default): 10 first contacts at least, below 5 % replied,
# the new-recipient limit (nd, 60 here) is halved. A meter reply's rr= is the
# state before its own request. Message-IDs are kept 90 days (middays): a
# reply on day 30 names a sent one.
run_table replyrate <<EOF
set rr=10,50000 lim=0,0,0,0,60 middays=90
at $((B + 3600))
commit rq@t.test to=$(names 1 20 q) mid=Q1 => counted=1 cold=20 rr=0,0,0
probe rq@t.test to=n1 => fits=1 rr=20,0,1
probe rq@t.test to=$(names 1 10 n) => fits=1 cold=10
probe rq@t.test to=$(names 1 11 n) => fits=0 over=s:nd over_limit=30 over_used=20 cold=11 rr=20,0,1
# the brake off: without min_reply_rate, or under min_first_contacts
probe rq@t.test to=$(names 1 11 n) rr=10,0 => fits=1 rr=20,0,0
probe rq@t.test to=$(names 1 11 n) rr=21,50000 => fits=1 rr=20,0,0
read HLEN $(key rq@t.test fc) => reply=21
read HGETALL $(key rq@t.test rr) => reply=f:22000=20
# what is not a first contact's reply counts nothing: a reply naming no
# Message-ID the sender sent, a reply from someone never mailed, a reply from
# a contact known before it was mailed (learned from its mail)
mail rq@t.test q2 refs=nosuch => res=known
mail rq@t.test x1 refs=Q1 => res=reply
mail rq@t.test k1 => res=learned
commit rq@t.test to=k1 mid=Q2 => counted=1 cold=0
mail rq@t.test k1 refs=Q2 => res=known
probe rq@t.test => rr=20,0,1
# one first contact replies: 1 of 20 is 5 %, not below: the brake is off
mail rq@t.test q1 refs=Q1 => res=reply
probe rq@t.test to=$(names 1 11 n) => fits=1 rr=20,1,0
probe rq@t.test rr=10,50001 => rr=20,1,1
read HGETALL $(key rq@t.test rr) => reply=f:22000=20,y:22000=1
read HLEN $(key rq@t.test fc) => reply=20
# a recipient counts once: its replies of later days count nothing more
at $((B + D + 3600))
mail rq@t.test q1 refs=Q1 => res=reply
probe rq@t.test => rr=20,1,0
# day 1: 30 more first contacts, none replies: 1 of 50 is 2 %, the brake on
commit rq@t.test to=$(names 21 50 q) mid=Q3 => counted=1 cold=30 rr=20,1,0
probe rq@t.test to=n1 => rr=50,1,1
# a late reply counts under the day its recipient was mailed
mail rq@t.test q30 refs=Q3 => res=reply
mail rq@t.test q3 refs=Q1 => res=reply
probe rq@t.test => rr=50,3,0
read HGETALL $(key rq@t.test rr) => reply=f:22000=20,f:22001=30,y:22000=2,y:22001=1
read TTL $(key rq@t.test rr) => reply~^(2678400|2678399)$
# 30 UTC days: day 0's first contacts and their replies leave on day 30; a
# reply to one of them then counts nothing; the hash keeps 31 days
at $((B + 29 * D + 3600))
probe rq@t.test => rr=50,3,0
at $((B + 30 * D + 3600))
probe rq@t.test => rr=30,1,1
mail rq@t.test q4 refs=Q1 => res=reply
probe rq@t.test => rr=30,1,1
at $((B + 31 * D + 3600))
commit rq@t.test to=z1 => counted=1 cold=1 rr=0,0,0
read HGETALL $(key rq@t.test rr) => reply=f:22001=30,f:22031=1,y:22001=1
set rr=0,0 lim=0
EOF

# =============================================================================
# meter_base.lua: plan overrides (pm_store_plan_set) replace the sender's
# limits, curve and softness by a plan of the table; one the table lacks is
# not applied and is reported; idempotence of a commit with a transaction id;
# the Message-IDs a commit records (what feedback.lua matches replies with)
run_table plans -L small:2,0,0,0,0,0,0:-:tempfail -L warm:0,0,0,0,0,0,0:1:1,3:3:tempfail \
    -L tagged:1,0,0,0,0,0,0:-:tag <<EOF
set lim=10
at $((B + 3600))
commit po@t.test => counted=1 plan=-1 used=1,1,0,0,0,0,0
plan po@t.test small => had=0
planget po@t.test => plan=small unknown=-
commit po@t.test => fits=1 counted=1 plan=0
commit po@t.test => fits=0 counted=0 plan=0 over=s:mh over_limit=2 over_used=2
# a plan that tags: soft, the commit counts
plan po@t.test tagged => had=0
commit po@t.test => fits=0 counted=1 plan=2 over=s:mh over_limit=1 over_used=2
# a plan with a curve: the sender warms up
plan pw@t.test warm => had=0
commit pw@t.test => fits=1 counted=1 plan=1 wu=1,0,1,1,1,0
commit pw@t.test => fits=0 counted=0 plan=1 over=s:warmup_day
# a plan this store's table lacks: not applied (the request's limits), recorded
plan po@t.test gold => had=0
commit po@t.test => fits=1 counted=1 plan=-2 used=4,4,0,0,0,0,0
planget po@t.test => plan=gold unknown=gold
read TTL $(PM_KEY_PREFIX=$P pm_key "po@t.test" planerr) => reply~^(86400|86399)$
plan po@t.test clear => had=1
planget po@t.test => plan=- unknown=-
commit po@t.test => counted=1 plan=-1 used=5,5,0,0,0,0,0

# idempotence: the same transaction again gets the recorded reply and counts
# nothing; one that did not count recorded nothing
set lim=2
commit tx@t.test tx=t1 to=a => fits=1 counted=1 used=1,1,1,1,1,0,0 cold=1
commit tx@t.test tx=t1 to=a => fits=1 counted=1 used=1,1,1,1,1,0,0 cold=1
probe tx@t.test => used=1,1,1,1,1,0,0
read TTL $(PM_KEY_PREFIX=$P pm_key "tx@t.test" tx:t1) => reply~^(1200|1199)$
commit tx@t.test tx=t2 m=2 => fits=0 counted=0
read EXISTS $(PM_KEY_PREFIX=$P pm_key "tx@t.test" tx:t2) => reply=0
commit tx@t.test tx=t2 => fits=1 counted=1 used=2,2,1,1,1,0,0
# a probe never replays
probe tx@t.test tx=t2 => fits=0 used=2,2,1,1,1,0,0
set lim=0

# Message-IDs: kept feedback.message_ids_days, at most message_ids_max (100)
# a sender: past that the oldest 50 of a sample go (HLEN: and the day
# sweep's state, prelude.lua)
$(for i in $(seq 1 100); do echo "commit mi@t.test mid=m$i midmax=100 => counted=1"; done)
read HLEN $(key mi@t.test mid) => reply=101
read TTL $(key mi@t.test mid) => reply~^(2592000|2591999)$
at $((B + D + 3600))
commit mi@t.test mid=m101 midmax=100 => counted=1
read HLEN $(key mi@t.test mid) => reply=52
mail mi@t.test p1 refs=m101 => res=reply
# a commit that counts nothing records no Message-ID
commit mj@t.test mid=x1 lim=1 m=2 => counted=0
read EXISTS $(key mj@t.test mid) => reply=0
# fake replies: the references are looked up among the Message-IDs the
# sender sent, in the same call (refs=-1 none asked, 0 none sent, 1 one
# sent); with the gate, a commit whose references name none counts nothing
commit fr@t.test to=q1 mid=F1 => counted=1 refs=-1
commit fr@t.test to=q2 refs=nosuch,F1 => counted=1 refs=1 cold=1
commit fr@t.test to=q3 refs=nosuch => counted=1 refs=0
commit fr@t.test to=q4 refs=nosuch gate=1 => fits=1 counted=0 refs=0 cold=1
contact fr@t.test q4 => ct=-1
commit fr@t.test to=q5 refs=F1 gate=1 => counted=1 refs=1
probe fr@t.test refs=nosuch gate=1 => counted=0 refs=0
probe fr@t.test => used=4,4,4,4,4,0,0 refs=-1
# another sender's Message-ID is not one this sender sent
commit fs@t.test to=q1 refs=F1 gate=1 => counted=0 refs=0
read EXISTS $(key fs@t.test w) => reply=0
EOF

# =============================================================================
# top.lua: the senders of the daily top index (meter.lua writes it: messages
# counted per UTC day), today first, each once, at most LIMIT a day
run_table top -x pmtop <<EOF
at $((B + 3600))
commit t1@t.test => counted=1
commit t2@t.test m=3 => counted=1
commit t3@t.test m=2 => counted=1
# not counted: a probe, internal mail, a refused commit
probe t4@t.test m=5
commit t5@t.test m=0 i=1 => counted=1
commit t6@t.test m=2 lim=1 => counted=0
top 1 0 => now=$((B + 3600)) senders=t2@t.test,t3@t.test,t1@t.test
top 1 2 => senders=t2@t.test,t3@t.test
read ZSCORE $(PM_KEY_PREFIX=pmtop pm_key company t.test top:22000) t2@t.test => reply=3
read TTL $(PM_KEY_PREFIX=pmtop pm_key company t.test top:22000) => reply~^(691200|691199)$
at $((B + D + 3600))
commit t4@t.test => counted=1
commit t1@t.test m=5 => counted=1
top 1 0 => senders=t1@t.test,t4@t.test
top 2 0 => senders=t1@t.test,t4@t.test,t2@t.test,t3@t.test
top 2 1 => senders=t1@t.test,t2@t.test
# 8 days at most (today and 7 before it)
at $((B + 8 * D + 3600))
top 8 0 => senders=t1@t.test,t4@t.test
top 20 0 => senders=t1@t.test,t4@t.test
at $((B + 9 * D))
top 8 0 => senders=-
EOF

# =============================================================================
# day hashes (prelude.lua's day sweep): Message-IDs (mid, middays), first
# contacts (fc, 31 days) and recipient domains (dom, 30 days) keep only their
# window's days, however often the sender writes them; the sweep runs once a
# day, 100 fields a call, its state in the hash's field "" (HLEN counts it).
# Incidents watched (fanout, far off) for the domains.
run_table agetrim < <(
    echo "set middays=3 inc=2 incc=1 incr=1 inct=0,0,100000,0,0,0,0"
    # one message a day for 41 days, each with a new Message-ID, a new
    # recipient (a first contact) and a new domain: the last 3, 31 and 30
    # days stay (without the sweep, 41 of each); contacts, 365 days, all
    for d in $(seq 0 40); do
        echo "at $((B + d * D + 3600))"
        echo "commit ag@t.test to=c$d mid=m$d incd=x$d.test => counted=1 cold=1"
    done
    echo "read HLEN $(key ag@t.test mid) => reply=4"
    echo "read HLEN $(key ag@t.test fc) => reply=32"
    echo "read HLEN $(key ag@t.test dom) => reply=31"
    echo "read HLEN $(key ag@t.test ct) => reply=42"
    echo "read HEXISTS $(key ag@t.test dom) x10.test => reply=0"
    echo "read HEXISTS $(key ag@t.test dom) x11.test => reply=1"
    # a hash past the compact encoding is swept a page a call: 600 first
    # contacts of day 0 leave over several calls of day 31, not in one
    echo "at $((B + 3600))"
    echo "commit ab@t.test to=$(names 1 400 a) => counted=1 cold=400"
    echo "commit ab@t.test to=$(names 401 600 a) => counted=1 cold=200"
    echo "read HLEN $(key ab@t.test fc) => reply=601"
    echo "at $((B + 31 * D + 3600))"
    echo "commit ab@t.test to=b1 => counted=1 cold=1"
    echo "read HLEN $(key ab@t.test fc) => reply~^[1-9][0-9][0-9]\$"
    for i in $(seq 2 12); do echo "commit ab@t.test to=b$i => counted=1 cold=1"; done
    echo "read HLEN $(key ab@t.test fc) => reply=13"
    # a Message-ID past its days is no longer one the sender sent, swept or not
    echo "at $((B + 3600))"
    echo "commit ar@t.test mid=g1 => counted=1"
    echo "at $((B + 2 * D + 3600))"
    echo "commit ar@t.test refs=g1 => counted=1 refs=1"
    echo "mail ar@t.test p1 refs=g1 => res=reply"
    echo "at $((B + 3 * D + 3600))"
    echo "commit ar@t.test refs=g1 => counted=1 refs=0"
    echo "mail ar@t.test p2 refs=g1 => res=learned"
    echo "read HLEN $(key ar@t.test mid) => reply=2"
)

# =============================================================================
# bench/script-ab calls the meter script with the arguments of
# policy/scripts.contract, written out by hand: a change of the contract the
# bench does not follow fails here, not unseen in a benchmark run.
out=$(bash "$top_srcdir/bench/script-ab" --rounds 1 --calls 20 "$top_builddir/policy/meter_script.lua" 2>&1) ||
    pm_fail "bench/script-ab failed: $out"
grep -qE '^  probe +[0-9.]+  commit +[0-9.]+  ' <<<"$out" || pm_fail "bench/script-ab printed: $out"

echo "PASS: scripts"
