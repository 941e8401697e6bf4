-- meter_windows.lua - the meter script's rolling windows (Redis script piece;
-- after prelude.lua, the generated contract and meter_base.lua).
--
-- WINDOW FIELDS: one per counter and bucket, "<c><w><b>:<K>"
--   c  m = messages (with an external recipient), r = external recipients,
--      n = new (first-contact) recipients (day window only), i = internal
--      messages (every recipient in local_domains: they spend no outgoing
--      quota and no warm-up, and have limits of their own)
--   w  h = rolling hour (3600 s), d = rolling day (86400 s)
--   b  the bucket length in seconds (hour_bucket or day_bucket)
--   K  the bucket index: the bucket holds what was counted in store time
--      [K*b, (K+1)*b)
--   e.g. "mh60:29403010" -> 3, "rd600:2940301" -> 25
--
--   and per counter one totals field "<c><w><b>" = "total:lo:hi": the sum of
--   its buckets lo .. hi, the buckets still in the hash; plus "cfg" =
--   "<hour_bucket>/<day_bucket>", the bucket lengths the totals are kept for.
--   e.g. "mh60" -> "41:29402950:29403010"
--
-- WINDOWS: at time t with bucket b, K = floor(t/b) and n = W/b; a window's
--   count is the sum of buckets K-n .. K (n+1 buckets), so it never
--   undercounts the true window (t-W, t] and a count leaves at most one
--   bucket late. A request reads the totals and current buckets (one HMGET);
--   the buckets between lo and K-n-1 have left the window: they are read
--   (a probe) or read and deleted (a count) and taken off the total, so a
--   sender that sends all day costs a few fields per request, not the
--   whole hash. A counter that does not fit has need = used + add - limit;
--   its live buckets are read oldest first and at the first bucket j where
--   their running sum reaches need, retry_at = (j + n + 1) * b; add > limit
--   gives -1.
--   When "cfg" differs (another server runs other bucket lengths) or the
--   totals are missing or malformed (a hash from an older postmeter), the
--   whole hash is read once: buckets that left their window are deleted, a
--   bucket of another length is moved into ours at its last second (so it
--   never counts for less time than it did), and the totals are rebuilt.
--
-- TTL and MEMORY: the window hash expires 86400 + day_bucket + hour_bucket
--   after the last write that opened a bucket and drops buckets that left
--   their window on every count: at most 3 * (3600/hour_bucket + 1) +
--   4 * (86400/day_bucket + 1) + 8 fields (771 with the default buckets,
--   about 15 KB in Redis 7's encoding; a sender that sends no internal mail
--   uses 563 of them).
--
-- SPDX-License-Identifier: BSD-2-Clause

-- The bucket lengths the totals of a window hash are kept for ("cfg").
local CFG = ARGV[A.hour_bucket] .. '/' .. ARGV[A.day_bucket]

-- Each counter's letter (what it adds: add's key) and window.
local LETTER = {mh = 'm', md = 'm', rh = 'r', rd = 'r', nd = 'n', ih = 'i', id = 'i'}
local IN_HOUR = {mh = true, rh = true, ih = true}

-- The counters, in C's order: per counter c (letter l) of window w its
-- bucket length b, buckets per window n, current bucket k, first live bucket
-- k - n, the totals field tot (the bucket fields' prefix before ":"), the
-- current bucket's field cur, and live, the end ":<k - n>:<k>" of a totals
-- value whose range is the live window's (the window's, shared by its
-- counters). Built in line, one constructor per counter.
local kh, kd = math.floor(now / bucket.h), math.floor(now / bucket.d)
local skh, skd = tostring(kh), tostring(kd)
local n_h, n_d = WINDOW.h / bucket.h, WINDOW.d / bucket.d
local live_h = ':' .. (kh - n_h) .. ':' .. skh
local live_d = ':' .. (kd - n_d) .. ':' .. skd
local CTR, BY, HFIELDS = {}, {}, {'cfg'}
do
    local hbs, dbs = ARGV[A.hour_bucket], ARGV[A.day_bucket]
    for i, c in ipairs(COUNTERS) do
        local x
        if IN_HOUR[c] then
            local tot = c .. hbs
            x = {c = c, l = LETTER[c], b = bucket.h, n = n_h, k = kh, first = kh - n_h, tot = tot,
                 cur = tot .. ':' .. skh, live = live_h}
        else
            local tot = c .. dbs
            x = {c = c, l = LETTER[c], b = bucket.d, n = n_d, k = kd, first = kd - n_d, tot = tot,
                 cur = tot .. ':' .. skd, live = live_d}
        end
        CTR[i], BY[c] = x, x
        HFIELDS[2 * i], HFIELDS[2 * i + 1] = x.tot, x.cur
    end
end

-- Write a scope's bucket-length stamp and its counters' "total:lo:hi" (with
-- the fields in extra): all of them after a rebuild (s.dirty nil), else those
-- of the counters that changed since read (s.dirty[c]), the others being
-- in the hash as they would be written.
local function write_totals(key, s, extra)
    local set = extra or {}
    if not s.dirty then
        set[#set + 1] = 'cfg'
        set[#set + 1] = CFG
    end
    for _, x in ipairs(CTR) do
        if not s.dirty or s.dirty[x.c] then
            set[#set + 1] = x.tot
            set[#set + 1] = string.format('%d:%d:%d', s.used[x.c], s.lo[x.c], s.hi[x.c])
        end
    end
    if #set > 0 then
        redis.call('HSET', key, unpack(set))
    end
end

-- Delete fields of a hash, 100 at a time.
local function hdel(key, fields)
    for i = 1, #fields, 100 do
        redis.call('HDEL', key, unpack(fields, i, math.min(i + 99, #fields)))
    end
end

-- Rebuild a scope's totals from all its fields: for a hash written with other
-- bucket lengths or by an older postmeter. Buckets that left their window go;
-- a bucket of another length folds into ours at its last second (so it never
-- counts for less time than before); then the totals are written back.
local function rebuild(key, s)
    local flat = redis.call('HGETALL', key)
    if #flat == 0 then
        return
    end
    local del, fold, own = {}, {}, {cfg = true}
    for _, x in ipairs(CTR) do
        own[x.tot] = true
    end
    for i = 1, #flat, 2 do
        local f, v = flat[i], tonumber(flat[i + 1])
        local c, len, k = string.match(f, '^([mrni][hd])(%d+):(%d+)$')
        local x = c and BY[c]
        if x and v then
            len, k = tonumber(len), tonumber(k)
            local stop = (k + 1) * len
            if stop <= x.first * x.b then
                del[#del + 1] = f
            else
                local j = k
                if len ~= x.b then
                    j = math.floor((stop - 1) / x.b)
                    fold[#fold + 1] = {x.tot .. ':' .. j, v}
                    del[#del + 1] = f
                end
                s.used[c] = s.used[c] + v
                s.hi[c] = math.max(s.hi[c], j)
                if j == x.k then
                    s.cur[c] = (s.cur[c] or 0) + v
                end
            end
        elseif not own[f] then
            del[#del + 1] = f
        end
    end
    hdel(key, del)
    for _, g in ipairs(fold) do
        redis.call('HINCRBY', key, g[1], g[2])
    end
    write_totals(key, s)
    redis.call('EXPIRE', key, WINDOW.d + bucket.d + bucket.h)
end

-- Read one scope's window hash: per counter its live total, its bucket
-- range (lo, hi), its current bucket, and the buckets that left the window
-- since the last write (to delete when counting). Reads a few fields; the
-- buckets themselves only when some have left the window.
local function read_scope(key)
    local used, los, his, cur = {}, {}, {}, {}
    local s = {used = used, lo = los, hi = his, cur = cur, gone = {}}
    local v = redis.call('HMGET', key, unpack(HFIELDS))
    local parsed, i = v[1] == CFG, 1
    while parsed and i <= #CTR do
        local x = CTR[i]
        local t, range = string.match(v[2 * i] or '', '^(%d+)(:.+)$')
        local lo, hi
        if range == x.live then -- the usual range: compared, not parsed
            lo, hi = x.first, x.k
        elseif range then
            lo, hi = string.match(range, '^:(%d+):(%d+)$')
            lo, hi = tonumber(lo), tonumber(hi)
            t = lo and t
        end
        parsed = t ~= nil and t ~= false and lo <= hi and hi - lo <= 2 * x.n + 2
        if parsed then
            local c, b = x.c, v[2 * i + 1]
            used[c], los[c], his[c] = tonumber(t), lo, hi
            if b then -- (an absent field: false)
                cur[c] = tonumber(b)
            end
        end
        i = i + 1
    end
    if not parsed then
        for _, x in ipairs(CTR) do
            s.used[x.c], s.lo[x.c], s.hi[x.c], s.cur[x.c] = 0, x.first, x.k, nil
        end
        rebuild(key, s)
        return s
    end
    -- the buckets lo .. first - 1 of each counter have left: read them (only
    -- where some are still counted) and take them off; a counter whose range
    -- moves is to be written back (dirty)
    local ask, from = {}, {}
    s.dirty = {}
    for _, x in ipairs(CTR) do
        local c, lo, hi = x.c, s.lo[x.c], s.hi[x.c]
        if lo ~= x.first or hi ~= x.k then -- (the live range: nothing left, nothing moves)
            for k = lo, math.min(hi, x.first - 1) do
                s.gone[#s.gone + 1] = x.tot .. ':' .. k
                if hi >= x.first then
                    ask[#ask + 1] = s.gone[#s.gone]
                    from[#ask] = c
                end
            end
            if hi < x.first then
                s.used[c] = 0
            end
            local nlo, nhi = math.max(lo, x.first), math.max(hi, x.k)
            if nlo ~= lo or nhi ~= hi then
                s.dirty[c] = true
            end
            s.lo[c], s.hi[c] = nlo, nhi
        end
    end
    if #ask > 0 then
        local got = redis.call('HMGET', key, unpack(ask))
        for j = 1, #ask do
            s.used[from[j]] = math.max(0, s.used[from[j]] - (tonumber(got[j]) or 0))
        end
    end
    return s
end

-- When a counter of a scope drops by need: the store time the bucket that
-- makes up the need leaves the window (-1: never). Reads the live buckets,
-- oldest first, 12 at a time, until the need is made up.
local function retry_at(key, s, x, need)
    local acc, k, last = 0, math.max(s.lo[x.c], x.first), s.hi[x.c]
    while k <= last do
        local fields = {}
        for j = k, math.min(k + 11, last) do
            fields[#fields + 1] = x.tot .. ':' .. j
        end
        local got = redis.call('HMGET', key, unpack(fields))
        for i = 1, #got do
            acc = acc + (tonumber(got[i]) or 0)
            if acc >= need then
                return (k + i + x.n) * x.b
            end
        end
        k = k + #fields
    end
    return -1
end

