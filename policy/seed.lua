-- seed.lua - contacts learned from Postfix's own logs, for postmeterctl
-- learn --maillog (Redis script, after the prelude and its contract).
--
-- CONTACTS: KEYS[K.ct] <prefix>:v2:{C}:s:<sender>:ct, the hash the meter
--   script keeps (meter_contacts.lua): field = the recipient's keyed hash,
--   value = the UTC day of the last message to it; and, with
--   contacts.company_wide, KEYS[K.dct] {<domain>}:d:ct the same way (not
--   declared: none). After the args A.*, pairs: hash, day of the last delivery the
--   logs show. A day in the future counts as today; a day ct_ttl days old
--   or more is not written (it would be cold already); a field is written
--   only when absent or older, so a day never moves back and running the
--   same pairs again writes nothing.
--
-- TTL and MEMORY: as the meter keeps contacts: the hash expires ct_ttl days
--   after a write, and after one it is trimmed to ct_max fields
--   (prelude.lua's day_hash_trim, repeated while it holds more, a bounded
--   number of times).
--
-- REPLY: now, then of the sender's hash the fields added, the fields whose
--   day moved forward, and the pairs not written.
--
-- SPDX-License-Identifier: BSD-2-Clause

local ttl, max = tonumber(ARGV[A.ct_ttl]), tonumber(ARGV[A.ct_max])
local first = NA + 1

-- Write the pairs into key where they are newer; returns added, newer, old.
local function seed(key)
    local fields = {}
    for i = first, #ARGV - 1, 2 do
        fields[#fields + 1] = ARGV[i]
    end
    if #fields == 0 then
        return 0, 0, 0
    end
    local have = redis.call('HMGET', key, unpack(fields))
    local set, added, newer, old = {}, 0, 0, 0
    for j = 1, #fields do
        local d = math.min(tonumber(ARGV[first + 2 * j - 1]) or -1, today)
        local h = tonumber(have[j])
        if d < 0 or today - d >= ttl or (h and h >= d) then
            old = old + 1
        else
            set[#set + 1] = fields[j]
            set[#set + 1] = d
            if h then
                newer = newer + 1
            else
                added = added + 1
            end
        end
    end
    if #set > 0 then
        redis.call('HSET', key, unpack(set))
        redis.call('EXPIRE', key, ttl * DAY)
        for _ = 1, math.floor(added / 50) + 2 do
            if not day_hash_trim(key, ttl, max) then
                break
            end
        end
    end
    return added, newer, old
end

local out = {}
out[R.now] = now
out[R.added], out[R.newer], out[R.old] = seed(KEYS[K.ct])
if KEYS[K.dct] then
    seed(KEYS[K.dct])
end
return out
