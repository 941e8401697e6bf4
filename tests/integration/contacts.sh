#!/bin/bash
# contacts.sh - contact memory and first-contact caps against a real Redis,
# through the milter: a recipient is cold until a message to it passes;
# first-contact recipients per day are capped exactly, also under concurrent
# sessions on two servers; contacts are stored as keyed hashes with a TTL;
# with company_wide, a contact of a colleague is not cold.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE"
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"


# Send one message through daemon $1 from $2 to the recipients $3...; print
# the summary line.
send() {
    local d=$1 from=$2 args=()
    shift 2
    for r in "$@"; do args+=(-r "$r"); done
    "$DRIVE" -S "unix:$PM_TMP/$d.sock" -c 1 -m 1 -f "$from" "${args[@]}" 2>&1 | head -n 1
}

# The value of key $2 in summary line $1.
field() {
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

for n in a b; do
    pm_milter_start "$n" <<CONF
local_domains = [ "example.com" ];
contacts: { secret_file = "$PM_TMP/contacts.key"; ttl_days = 365; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 5; warmup = []; }; };
rules = ( );
CONF
done

# Five new recipients pass, the sixth is refused at RCPT, a known one passes.
for i in 1 2 3 4 5; do
    out=$(send a alice@example.com "new$i@example.org")
    pm_assert_eq 1 "$(field "$out" accepted)" "new recipient $i"
done
out=$("$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f alice@example.com -r new6@example.org 2>&1)
pm_assert_eq 0 "$(field "$(head -n 1 <<<"$out")" accepted)" "sixth new recipient"
grep -q "^reply 1 451 4.7.1 <alice@example.com>: daily limit of new recipients reached (5 first-contact recipients per 24 hours); try again after " <<<"$out" ||
    pm_fail "new-recipient reply: $out"
out=$(send b alice@example.com new3@example.org)
pm_assert_eq 1 "$(field "$out" accepted)" "a known recipient on the other server"
# Internal recipients are never first contacts.
out=$(send a alice@example.com colleague@example.com)
pm_assert_eq 1 "$(field "$out" accepted)" "internal recipient"
# A message to a known and a cold recipient: only the cold one is refused.
out=$(send a alice@example.com new1@example.org new7@example.org)
pm_assert_eq "1 1" "$(field "$out" accepted) $(field "$out" rcpt_refused)" "known + cold"

# Contacts are keyed hashes with a TTL; no address is stored. The hash also
# holds its day sweep's state, the field "" (prelude.lua).
key="$(pm_key "alice@example.com" ct)"
pm_assert_eq 6 "$(pm_rcli HLEN "$key")" "contacts remembered"
pm_assert_eq 1 "$(pm_rcli HKEYS "$key" | grep -c '^$')" "the day sweep's state"
pm_rcli HKEYS "$key" | grep -v '^$' | grep -qv '^[0-9a-f]\{16\}$' && pm_fail "contact field that is not a hash"
pm_rcli HKEYS "$key" | grep -q example && pm_fail "an address is stored in the contacts"
ttl=$(pm_rcli TTL "$key")
[ "$ttl" -gt $((364 * 86400)) ] && [ "$ttl" -le $((365 * 86400)) ] || pm_fail "contacts TTL $ttl"

# Concurrency: 24 sessions on two servers, each to its own new recipient,
# cap 5 for a fresh sender: exactly 5 pass.
SENDS=()
for i in $(seq 1 24); do
    d=$([ $((i % 2)) = 0 ] && echo a || echo b)
    send "$d" bob@example.com "cc$i@example.net" >"$PM_TMP/cc$i.out" &
    SENDS+=($!)
done
wait "${SENDS[@]}"
total=0
for i in $(seq 1 24); do
    total=$((total + $(field "$(cat "$PM_TMP/cc$i.out")" accepted)))
done
pm_assert_eq 5 "$total" "concurrent first contacts accepted"
pm_assert_eq 6 "$(pm_rcli HLEN "$(pm_key "bob@example.com" ct)")" "concurrent contacts stored (and the sweep's state)"

# Company-wide contacts: a colleague's contact is not cold.
pm_milter_start cw <<CONF
local_domains = [ "example.com" ];
contacts: { secret_file = "$PM_TMP/contacts.key"; company_wide = true; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 1; warmup = []; }; };
rules = ( );
CONF
out=$(send cw carol@example.com shared@example.org)
pm_assert_eq 1 "$(field "$out" accepted)" "carol's first contact"
out=$(send cw dave@example.com other@example.org)
pm_assert_eq 1 "$(field "$out" accepted)" "dave's first contact"
out=$(send cw dave@example.com shared@example.org)
pm_assert_eq 1 "$(field "$out" accepted)" "carol's contact is not cold for dave"
grep -q "sender=dave@example.com .* new_rcpts_day=1/1" "$PM_TMP/cw.log" ||
    pm_fail "dave's new-recipient count: $(grep dave "$PM_TMP/cw.log")"

# More external recipients than a message can hold (1000, whatever
# recipients_per_message says): the 1001st is refused, and the 1000 are
# counted exactly, as recipients and as first contacts.
pm_milter_start many <<CONF
local_domains = [ "example.com" ];
contacts: { secret_file = "$PM_TMP/contacts.key"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; recipients_per_message = 0; warmup = []; }; };
rules = ( );
CONF
out=$("$DRIVE" -S "unix:$PM_TMP/many.sock" -c 1 -m 1 -f erin@example.com -R 1001 2>&1)
pm_assert_eq "1 1" "$(field "$(head -n 1 <<<"$out")" accepted) $(field "$(head -n 1 <<<"$out")" rcpt_refused)" \
    "1001 external recipients"
grep -qx 'reply 1 452 4.5.3 <erin@example.com>: too many recipients in one message (1000 per message); send the rest in another message' <<<"$out" ||
    pm_fail "the 1001st recipient's reply: $out"
grep -q "sender=erin@example.com .* rcpts=1000 ext=1000 .* rcpts_day=1000/0 new_rcpts_day=1000/0 " "$PM_TMP/many.log" ||
    pm_fail "erin's counts: $(grep erin "$PM_TMP/many.log")"
pm_assert_eq 1001 "$(pm_rcli HLEN "$(pm_key "erin@example.com" ct)")" "erin's contacts (and the sweep's state)"
echo "PASS: contacts"
