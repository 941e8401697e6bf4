#!lua
-- prelude.lua - the shared start of postmeter's Redis scripts (meter.lua,
-- feedback.lua): store time and the reputation hash's upkeep. It is
-- concatenated before each script when the scripts are embedded at build
-- time, so every script reckons time and days the same way.
--
-- STORE TIME: the Redis server's clock (TIME) plus the test clock offset,
--   ARGV[1] of every script (scripts.contract: each script's first argument,
--   clock), in seconds. postmeter passes 0; with redis.test_clock set it
--   passes the value of the clock key (<prefix>:v2:{@}:clock; set only by
--   tests), which it reads right before the call: no script reads or
--   declares a clock key. The same argument carries the layout guard (below).
--   now is in seconds, today the UTC day number (now / 86400).
--
-- REPUTATION HASH <prefix>:v2:{C}:s:<sender>:rep: one field per kind and UTC
--   day, "<kind>:<day>": s external recipients sent (meter.lua), b hard
--   bounces, k blocks, r replies, l contacts learned from mail that was not a
--   reply (feedback.lua). Fields older than REP_DAYS days are deleted when a
--   day's first field is written, so the hash holds at most 5 * REP_DAYS
--   fields; its TTL is REP_DAYS days from the first write of its last day.
-- REPLY RATE HASH <prefix>:v2:{C}:s:<sender>:rr: "f:<day>" first-contact
--   recipients mailed that UTC day (meter.lua), "y:<day>" how many of them
--   replied since (feedback.lua; counted under the day they were mailed).
--   Trimmed as the reputation hash, at RR_DAYS days: at most 2 * RR_DAYS
--   fields. FIRST CONTACTS <prefix>:v2:{C}:s:<sender>:fc: recipient hash ->
--   the UTC day it was mailed as a first contact; a reply deletes it (a
--   recipient counts once); kept RR_DAYS days and at most contacts.max_per_
--   sender fields (day_hash_trim).
--
-- SPDX-License-Identifier: BSD-2-Clause

if redis.replicate_commands then
    redis.replicate_commands()
end

local DAY = 86400
local REP_DAYS = 8 -- the 7-day window plus the day under way
local RR_DAYS = 31 -- the reply rate's 30 days plus the day under way

-- The layout 1 name of a layout 2 key that a layout 1 key may precede (a
-- sender's, a domain's, a suppression entry), else nil.
local function layout_v1_name(key)
    local p, c, rest = string.match(key, '^(.*):v2:{(.-)}:(.*)$')
    if not p then
        return nil
    end
    local s, kind = string.match(rest, '^s:(.-@[^:@]*):(.+)$')
    if not s then
        s, kind = string.match(rest, '^s:([^:@]*):(.+)$')
    end
    if s then
        return p .. ':v1:{s:' .. s .. '}:' .. kind
    end
    kind = string.match(rest, '^d:(.+)$')
    if kind then
        return p .. ':v1:{d:' .. c .. '}:' .. kind
    end
    local r = string.match(rest, '^sup:(.+)$')
    if r then
        return p .. ':v1:{d:' .. c .. '}:sup:' .. r
    end
    return nil
end

-- While the data moves to layout 2 ("2m"): each key of the call takes over
-- its layout 1 key when it has none of its own yet (RENAME keeps the TTL).
local function layout_adopt()
    for i = 1, #KEYS do
        local old = layout_v1_name(KEYS[i])
        if old and redis.call('EXISTS', old) == 1 and redis.call('EXISTS', KEYS[i]) == 0 then
            redis.call('RENAME', old, KEYS[i])
        end
    end
end

-- ARGV[1]: "<clock offset>" or "<clock offset>|<layout>|<prefix>:layout",
-- the layout the caller built its names for and the key that says which the
-- data is in (absent: 1); a mismatch is refused with "LAYOUT <value>"
local clock_arg, layout_want, layout_key = string.match(ARGV[1], '^([^|]*)|(%d)|(.+)$')
if not layout_want then
    clock_arg = ARGV[1]
else
    local layout = redis.call('GET', layout_key) or '1'
    if layout_want ~= (layout == '1' and '1' or '2') then
        return redis.error_reply('LAYOUT ' .. layout)
    end
    if layout == '2m' then
        layout_adopt()
    end
end
local now = tonumber(redis.call('TIME')[1]) + math.floor(tonumber(clock_arg) or 0)
local today = math.floor(now / DAY)

-- Add n to the reputation field "<kind>:<today>" of key (days: the window
-- kept, REP_DAYS when nil); returns the new value. The first write of a day
-- removes the days that left the window.
local function rep_add(key, kind, n, days)
    days = days or REP_DAYS
    local v = redis.call('HINCRBY', key, kind .. ':' .. today, n)
    if v == n then
        local old = {}
        for _, f in ipairs(redis.call('HKEYS', key)) do
            local d = tonumber(string.match(f, '^%a:(%d+)$'))
            if not d or today - d >= days then
                old[#old + 1] = f
            end
        end
        if #old > 0 then
            redis.call('HDEL', key, unpack(old))
        end
        redis.call('EXPIRE', key, days * DAY)
    end
    return v
end

-- DAY HASHES ("field -> UTC day": contacts, Message-IDs, first contacts,
--   domains, networks) are kept by age as well as by size: after a write
--   that adds fields, day_hash_trim sweeps the hash once a UTC day, SWEEP_PAGE
--   fields a call (HSCAN from a cursor kept in the hash), deleting the fields
--   ttl_days old or more; then, past max fields, it trims as below. The
--   sweep's state is the hash's field "" (no real field is empty: keyed
--   hashes, domains, networks): "<day>:<cursor>", the day the sweep started
--   and the cursor of its next page, 0 once it is done; so a hash holds at
--   most max + 1 fields. A sweep that does not end within its day goes on.
local SWEEP_FIELD, SWEEP_PAGE = '', 100

-- One step of key's sweep by age, when one is due (none done today, or one
-- under way): one HSCAN page, its fields ttl_days old or more deleted.
local function day_hash_sweep(key, ttl_days)
    local st = redis.call('HGET', key, SWEEP_FIELD)
    local day, cursor = string.match(st or '', '^(%d+):(%d+)$')
    day = tonumber(day) or -1
    if cursor == '0' and day >= today then
        return
    end
    if cursor == nil or cursor == '0' then
        day, cursor = today, '0'
    end
    local r = redis.call('HSCAN', key, cursor, 'COUNT', SWEEP_PAGE)
    local page, dead = r[2], {}
    for i = 1, #page, 2 do
        if page[i] ~= SWEEP_FIELD and today - (tonumber(page[i + 1]) or 0) >= ttl_days then
            dead[#dead + 1] = page[i]
        end
    end
    if #dead > 0 then
        redis.call('HDEL', key, unpack(dead))
    end
    redis.call('HSET', key, SWEEP_FIELD, day .. ':' .. r[1])
end

-- Keep a hash of "field -> UTC day" (contacts, Message-IDs) within its days
-- (day_hash_sweep) and within max fields after a write added some: past
-- max, remove the fields of a sample of 200 that are ttl_days old or more, or
-- else the oldest 50 of the sample. Returns true when it removed some for max.
local function day_hash_trim(key, ttl_days, max)
    local n = redis.call('HLEN', key)
    if n == 0 then
        return false
    end
    day_hash_sweep(key, ttl_days)
    if n <= max then
        return false
    end
    n = redis.call('HLEN', key)
    if n <= max + 1 then -- the sweep's state is not one of the max
        return false
    end
    local page = redis.call('HSCAN', key, 0, 'COUNT', 200)[2]
    local old, dead = {}, {}
    for i = 1, #page, 2 do
        if page[i] ~= SWEEP_FIELD then
            local d = tonumber(page[i + 1]) or 0
            if today - d >= ttl_days then
                dead[#dead + 1] = page[i]
            end
            old[#old + 1] = {d, page[i]}
        end
    end
    if #dead == 0 then
        table.sort(old, function(x, y) return x[1] < y[1] end)
        for i = 1, math.min(50, #old) do
            dead[#dead + 1] = old[i][2]
        end
    end
    if #dead > 0 then
        redis.call('HDEL', key, unpack(dead))
    end
    return true
end
