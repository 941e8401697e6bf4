-- meter_contacts.lua - the meter script's contact memory (Redis script piece;
-- after meter_base.lua).
--
-- CONTACT FIELDS: field = keyed hash of a recipient address (16 hex digits,
--   computed by postmeter with the configured secret), value = the UTC day of
--   the last counted message to it (KEYS[K.ct]; KEYS[K.dct] for the company
--   with contacts.company_wide). A recipient is known while that day, or the
--   day feedback.lua last learned it from incoming mail (KEYS[K.lc]), is less
--   than ct_ttl days ago. New (cold) recipients count in the "nd" counter
--   against the new-recipient limit.
--
-- TTL and MEMORY: a contact hash expires ct_ttl days after its last write,
--   loses its fields ct_ttl days old to a sweep run once a day (prelude.lua's
--   day_hash_trim, a page a write that adds a contact) and holds at most
--   ct_max fields (about 40 bytes each): past that, each write removes
--   expired entries from a sample of 200 fields, or the oldest 50 of them.
--   The Message-ID hash is kept the same way with its own days and bound.
--
-- SPDX-License-Identifier: BSD-2-Clause

local ct_ttl, ct_max = tonumber(ARGV[A.ct_ttl]), tonumber(ARGV[A.ct_max])
local company_wide = ARGV[A.company_wide] == '1'

-- The day each recipient hash was last counted for the sender (and for the
-- company when looked up there); false when absent.
local seen, seen_d = {}, {}

-- 1 when a recipient hash is a known contact of the sender (mailed, or
-- learned from incoming mail) or of the company.
local function known(h)
    local d = tonumber(redis.call('HGET', KEYS[K.ct], h))
    seen[h] = d or false
    if d and today - d < ct_ttl then
        return true
    end
    d = tonumber(redis.call('HGET', KEYS[K.lc], h))
    if d and today - d < ct_ttl then
        return true
    end
    if company_wide then
        d = tonumber(redis.call('HGET', KEYS[K.dct], h))
        seen_d[h] = d or false
        return d ~= nil and today - d < ct_ttl
    end
    return false
end

local cold = tonumber(ARGV[A.cold_before])
local cold_h = {} -- the cold recipients' hashes (the reply rate's first contacts)
local cold_first = 0 -- the first of them among the request's hashes (from 1)
for i = first_hash, #ARGV do
    if not known(ARGV[i]) then
        if cold_first == 0 then
            cold_first = i - first_hash + 1
        end
        cold = cold + 1
        cold_h[#cold_h + 1] = ARGV[i]
    end
end
-- what the request adds to the counters of each letter: m messages, r external
-- recipients, n first-contact recipients, i internal messages
local add = {m = tonumber(ARGV[A.msgs]), r = tonumber(ARGV[A.rcpts]), n = cold,
             i = tonumber(ARGV[A.internal])}

-- Remember the recipients as contacts of key (days: what it held), keeping
-- the hash bounded; a recipient already counted today costs no write.
local function remember(key, days)
    local set = {}
    for i = first_hash, #ARGV do
        local h = ARGV[i]
        if days[h] ~= today then
            set[#set + 1] = h
            set[#set + 1] = today
        end
    end
    if #set == 0 then
        return
    end
    local added = redis.call('HSET', key, unpack(set))
    redis.call('EXPIRE', key, ct_ttl * DAY)
    if added > 0 then
        day_hash_trim(key, ct_ttl, ct_max)
    end
end

