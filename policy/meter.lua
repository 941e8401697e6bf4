-- meter.lua - postmeter's atomic check-and-count of one request (Redis script).
--
-- Runs inside Redis (EVALSHA), so checking every limit and counting happen
-- as one step for every mail server sharing this Redis. Time is the Redis
-- server's clock, never a client's.
--
-- KEYS
--   KEYS[1]  <prefix>:v1:clock (string, set only by tests; read here)
--            An integer number of seconds added to the Redis TIME; absent
--            means 0. Tests set it to make days pass; production leaves it
--            unset.
--   KEYS[2]  <prefix>:v1:{s:<sender>}:w (hash)  the sender's windows
--   KEYS[3]  <prefix>:v1:{d:<domain>}:w (hash)  the sender domain's windows,
--            present only when the request uses the domain scope.
--   Each scope key carries its own hash tag, so all of a sender's keys stay
--   in one Redis Cluster slot.
--
-- FIELDS of a window hash: one per counter and bucket, "<c><w><b>:<K>"
--   c  m = messages, r = external recipients
--   w  h = rolling hour (3600 s), d = rolling day (86400 s)
--   b  the bucket length in seconds (hour_bucket or day_bucket)
--   K  the bucket index: the bucket holds what was counted in store time
--      [K*b, (K+1)*b)
--   e.g. "mh60:29403010" -> 3, "rd600:2940301" -> 25
--   Every count is added to one hour field and one day field of each scope.
--
-- WINDOWS: at time t with bucket b, K = floor(t/b) and n = W/b; a window's
--   count is the sum of buckets K-n .. K (n+1 buckets), so it never
--   undercounts the true window (t-W, t] and a count leaves at most one
--   bucket late. (A field of another bucket length, left by a server with a
--   different configuration, counts while any part of it overlaps the
--   window.) A counter that does not fit has need = used + add - limit; its
--   buckets are walked oldest first and at the first bucket j where their
--   running sum reaches need, retry_at = (j + n + 1) * b; add > limit gives -1.
--
-- TTL and MEMORY: every write sets the hash's TTL to 86400 + day_bucket
--   (the longest any field can still count). Every write also deletes the
--   fields that have left their window, so a hash holds at most
--   2 * (3600/hour_bucket + 1) + 2 * (86400/day_bucket + 1) fields: 412 with
--   the default buckets (60 s, 600 s), measured at 8 KB per sender (and per
--   domain) in Redis 7's compact hash encoding (hash-max-listpack-entries
--   512), 24 KB when stored as a hash table. A sender holds only the buckets
--   it sent in.
--
-- ARGV
--   1 mode (0 probe: count nothing; 1 commit: count only if every counter
--     of every scope fits; 2 force: always count), 2 messages to add,
--   3 recipients to add, 4 hour_bucket, 5 day_bucket, then for each scope
--   key four limits (messages/hour, messages/day, recipients/hour,
--   recipients/day; 0 = unlimited).
--
-- REPLY (integers)
--   fits, counted, over_scope, over_counter, over_limit, over_used,
--   retry_at, now, then for scope 0 and scope 1 the four counters (after the
--   request when counted, before otherwise; zeros for an unused scope).
--   over_* and retry_at describe the first counter that does not fit (scope
--   order, then counter order), all zeros when everything fits.

if redis.replicate_commands then
    redis.replicate_commands()
end

local WINDOW = {h = 3600, d = 86400}
local COUNTERS = {'mh', 'md', 'rh', 'rd'}

local mode = tonumber(ARGV[1])
local add = {m = tonumber(ARGV[2]), r = tonumber(ARGV[3])}
local bucket = {h = tonumber(ARGV[4]), d = tonumber(ARGV[5])}
local nscopes = #KEYS - 1

local t = redis.call('TIME')
local offset = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
local now = tonumber(t[1]) + math.floor(offset)

-- The store time at which the window's oldest counted bucket starts.
local function window_start(w)
    local b = bucket[w]
    return (math.floor(now / b) - WINDOW[w] / b) * b
end

local start = {h = window_start('h'), d = window_start('d')}

-- Read one scope's hash: per counter its total and its live buckets
-- (end time, count), plus the fields that have left their window.
local function scan(key)
    local s = {used = {}, items = {}, stale = {}}
    for _, c in ipairs(COUNTERS) do
        s.used[c] = 0
        s.items[c] = {}
    end
    local flat = redis.call('HGETALL', key)
    for i = 1, #flat, 2 do
        local f = flat[i]
        local c, len, k = string.match(f, '^([mr][hd])(%d+):(%d+)$')
        local v = tonumber(flat[i + 1])
        local stop = nil
        if c and v then
            stop = (tonumber(k) + 1) * tonumber(len)
        end
        if stop and stop > start[string.sub(c, 2, 2)] then
            s.used[c] = s.used[c] + v
            table.insert(s.items[c], {stop, v})
        else
            table.insert(s.stale, f)
        end
    end
    return s
end

-- When a counter with these live buckets drops by need: the store time the
-- bucket that makes up the need leaves the window.
local function retry_at(items, w, need)
    local b = bucket[w]
    local n = WINDOW[w] / b
    local acc = 0
    table.sort(items, function(x, y) return x[1] < y[1] end)
    for _, it in ipairs(items) do
        acc = acc + it[2]
        if acc >= need then
            return (math.ceil(it[1] / b) + n) * b
        end
    end
    return -1
end

local scopes = {}
local fits = 1
local over = {0, 0, 0, 0, 0}
for si = 1, nscopes do
    local s = scan(KEYS[si + 1])
    scopes[si] = s
    for ci, c in ipairs(COUNTERS) do
        local limit = tonumber(ARGV[5 + (si - 1) * 4 + ci])
        local a = add[string.sub(c, 1, 1)]
        local used = s.used[c]
        if limit > 0 and used + a > limit then
            if fits == 1 then
                local r = -1
                if a <= limit then
                    r = retry_at(s.items[c], string.sub(c, 2, 2), used + a - limit)
                end
                over = {si - 1, ci - 1, limit, used, r}
            end
            fits = 0
        end
    end
end

local counted = 0
if mode == 2 or (mode == 1 and fits == 1) then
    counted = 1
end

if counted == 1 and (add.m > 0 or add.r > 0) then
    for si = 1, nscopes do
        local key = KEYS[si + 1]
        local s = scopes[si]
        for _, c in ipairs(COUNTERS) do
            local a = add[string.sub(c, 1, 1)]
            if a > 0 then
                local w = string.sub(c, 2, 2)
                local b = bucket[w]
                redis.call('HINCRBY', key, c .. b .. ':' .. math.floor(now / b), a)
                s.used[c] = s.used[c] + a
            end
        end
        for i = 1, #s.stale, 100 do
            redis.call('HDEL', key, unpack(s.stale, i, math.min(i + 99, #s.stale)))
        end
        redis.call('EXPIRE', key, WINDOW.d + bucket.d)
    end
end

local reply = {fits, counted, over[1], over[2], over[3], over[4], over[5], now}
for si = 1, 2 do
    for _, c in ipairs(COUNTERS) do
        table.insert(reply, scopes[si] and scopes[si].used[c] or 0)
    end
end
return reply
