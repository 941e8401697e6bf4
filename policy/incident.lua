-- incident.lua - a sender's incident, read, opened by hand or released
-- (Redis script, after the prelude and its contract), for postmeterctl
-- incident and the metrics refresher (store_redis_incident.c).
--
-- INCIDENT HASH <prefix>:v2:{C}:s:S:inc (incident.h: at, signal, figures, by,
--   note, until, ids, held), written by meter.lua when a signal trips and
--   here by "open". An incident whose "until" (store time) has come is over:
--   its hash is deleted when read (its TTL ends it in real time too).
-- INDEX <prefix>:v2:{C}:incidents: a sorted set of the senders in incident by
--   the store time they entered it. An entry whose hash is gone or over is
--   stale and removed when read.
-- A.op:
--   get      the sender's incident (R.result 1, R.fields its hash) or none
--   open     open one (signal "admin") unless one is open and A.force is
--            not "1": R.result 0 and R.fields the open one; else R.result 1
--            and R.fields the new one. A.secs > 0: it ends by itself then.
--   release  delete the hash and the index entry; R.result 1 and R.fields
--            what it was, or 0 when none was open. The signals start
--            afresh: the windows of the sender's rates (K.ir: m:, r:, f:, b:
--            and nn, see meter_incident.lua) are deleted, its daily counts
--            (the usual rate) kept; else the next message would trip the
--            signal the administrator just reviewed
--   list     the senders of the keys K.inc.. and args A.sender..: R.result
--            the number in incident, then for each its name and its hash
--
-- SPDX-License-Identifier: BSD-2-Clause

-- The hash of an incident in force at key, or nil (an incident over is deleted).
local function live(key)
    local h = redis.call('HGETALL', key)
    if #h == 0 then
        return nil
    end
    for i = 1, #h, 2 do
        if h[i] == 'until' then
            local u = tonumber(h[i + 1]) or 0
            if u > 0 and u <= now then
                redis.call('DEL', key)
                return nil
            end
        end
    end
    return h
end

local op, index = ARGV[A.op], KEYS[K.index]
local out = {}
out[R.now] = now
out[R.result] = 0
if op == 'list' then
    local n = 0
    for i = 0, #KEYS - K.inc do
        local sender = ARGV[A.sender + i]
        local h = live(KEYS[K.inc + i])
        if h then
            n = n + 1
            out[#out + 1] = sender
            out[#out + 1] = h
        else
            redis.call('ZREM', index, sender)
        end
    end
    out[R.result] = n
    return out
end

local key, sender = KEYS[K.inc], ARGV[A.sender]
local h = live(key)
if op == 'get' then
    if not h then
        redis.call('ZREM', index, sender)
    end
elseif op == 'release' then
    redis.call('DEL', key)
    redis.call('ZREM', index, sender)
    if h then
        local gone = {}
        for _, f in ipairs(redis.call('HKEYS', KEYS[K.ir])) do
            local p = string.sub(f, 1, 2)
            if p == 'm:' or p == 'r:' or p == 'f:' or p == 'b:' or f == 'nn' or f == 'nnet' then
                gone[#gone + 1] = f
            end
        end
        if #gone > 0 then
            redis.call('HDEL', KEYS[K.ir], unpack(gone))
        end
    end
elseif op == 'open' then
    if h and ARGV[A.force] ~= '1' then
        out[R.fields] = h
        return out
    end
    local secs = tonumber(ARGV[A.secs]) or 0
    local untl = secs > 0 and now + secs or 0
    redis.call('DEL', key)
    redis.call('HSET', key, 'at', now, 'signal', 'admin', 'figures', '', 'by', ARGV[A.by],
        'note', ARGV[A.note], 'until', untl, 'ids', '', 'held', 0)
    if secs > 0 then
        redis.call('EXPIRE', key, secs)
    end
    redis.call('ZADD', index, now, sender)
    h = redis.call('HGETALL', key)
else
    return redis.error_reply('incident.lua: unknown op ' .. tostring(op))
end
if h then
    out[R.result] = 1
    out[R.fields] = h
end
return out
