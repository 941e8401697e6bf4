-- meter.lua - postmeter's atomic check-and-count of one request (Redis script;
-- prelude.lua, which reckons store time, comes first).
--
-- Runs inside Redis (EVALSHA), so checking every limit and counting happen
-- as one step for every mail server sharing this Redis. Time is the Redis
-- server's clock, never a client's.
--
-- KEYS
--   KEYS[1]  <prefix>:v1:clock (string, set only by tests; see prelude.lua)
--   KEYS[2]  <prefix>:v1:{s:<sender>}:w   (hash) the sender's windows
--   KEYS[3]  <prefix>:v1:{s:<sender>}:wu  (hash) the sender's warm-up state
--   KEYS[4]  <prefix>:v1:{s:<sender>}:ct  (hash) the sender's contacts
--   KEYS[5]  <prefix>:v1:{d:<domain>}:ct  (hash) the domain's contacts (read
--            and written only when contacts are company-wide)
--   KEYS[6]  <prefix>:v1:{s:<sender>}:plan  (string) plan override
--   KEYS[7]  <prefix>:v1:{s:<sender>}:cr    (hash) credits
--   KEYS[8]  <prefix>:v1:{s:<sender>}:crlog (list) credit movements
--   KEYS[9]  <prefix>:v1:{s:<sender>}:rep   (hash) reputation (prelude.lua)
--   KEYS[10] <prefix>:v1:{d:<company>}:sup:<recipient> (hash: at, status,
--            sender) the suppression entry of the recipient a probe asks
--            about in the sender's company (ending in ":sup:" for none)
--   KEYS[11] <prefix>:v1:{s:<sender>}:lc    (hash) contacts learned from
--            incoming mail (feedback.lua): a known contact too
--   KEYS[12] <prefix>:v1:{s:<sender>}:mid   (hash) keyed hashes of the
--            Message-IDs the sender sent -> UTC day (feedback.lua matches
--            replies against them)
--   KEYS[13] <prefix>:v1:{s:<sender>}:tx:<id> (string) the reply a commit
--            of this transaction gave ("" for none; see IDEMPOTENCE)
--   KEYS[14] <prefix>:v1:{s:<sender>}:planerr (string) the name of a plan
--            override this postmeter does not know (see PLAN OVERRIDE)
--   KEYS[15] <prefix>:v1:{d:<domain>}:w   (hash) the domain's windows and
--   KEYS[16] <prefix>:v1:{d:<domain>}:wu  (hash) warm-up: present only when
--            the request uses the domain scope.
--   The top index <prefix>:v1:top:<day> (sorted set: sender -> messages
--   counted that UTC day, TTL 8 days) is named from ARGV, since its day is
--   the store's. doc/redis-keys.md lists every key.
--   Each scope's keys carry its own hash tag, so all of a sender's keys stay
--   in one Redis Cluster slot (the script as a whole spans several slots:
--   Redis Cluster is not supported).
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
-- WARM-UP FIELDS: start (UTC day number the warm-up began), stage (0-based
--   stage of the last active day), last (last UTC day the scope sent on),
--   today (messages counted on day "last").
--   A scope with no state, or silent for dormant_days, starts at stage 0; on
--   the first message of a later UTC day the stage moves on by one (one stage
--   per active sending day), unless the sender's hard-bounce rate over the
--   last 7 days (REPUTATION below, whatever min_sends) is above
--   max_bounce_ppm or its reputation level halves its limits.
--   While the stage has a cap, messages on this UTC day must stay within the
--   day cap, and messages in the rolling hour (the "mh" counter) within the
--   hour cap; past the curve's end the plan's limits apply alone. Over the
--   day cap, retry_at is the next UTC midnight.
--
-- CONTACT FIELDS: field = keyed hash of a recipient address (16 hex digits,
--   computed by postmeter with the configured secret), value = the UTC day
--   of the last counted message to it. A recipient is known while that day,
--   or the day feedback.lua last learned it from incoming mail (KEYS[11]), is
--   less than ttl_days ago. New (cold) recipients count in the "n" counter
--   against the new-recipient limit.
--
-- TTL and MEMORY: the window hash expires 86400 + day_bucket + hour_bucket
--   after the last write that opened a bucket and drops buckets that left
--   their window on every count: at most 3 * (3600/hour_bucket + 1) +
--   4 * (86400/day_bucket + 1) + 8 fields (771 with the default buckets,
--   about 15 KB in Redis 7's encoding; a sender that sends no internal mail
--   uses 563 of them). The warm-up hash (4 fields,
--   under 200 bytes) expires dormant_days + 1 days after the first counted
--   message of its last sending day. The contact hash expires ttl_days after
--   its last write and holds at most max_per_sender fields (about 40 bytes
--   each): past that, each write removes expired entries from a sample of
--   200 fields, or the oldest 50 of them. The Message-ID hash is kept the
--   same way with its own days and bound.
--
-- ARGV
--   1 mode (0 probe: count nothing; 1 commit: count unless a limit of a
--     scope that is not soft, or a reputation brake, is exceeded; 2 force:
--     always count), 2 messages to add (messages with an external
--   recipient), 3 external recipients to add, 4 hour_bucket, 5 day_bucket, 6 contacts ttl_days,
--   7 contacts max_per_sender, 8 company_wide (0/1), 9 cold recipients
--   already found in this message (probes at RCPT), 10 the number H of
--   recipient hashes, 11 .. 10+H the hashes; then per scope eleven values:
--   seven limits (messages/hour, messages/day, recipients/hour,
--   recipients/day, new recipients/day, internal messages/hour, internal
--   messages/day; 0 = unlimited), dormant_days,
--   max_bounce_ppm, the warm-up curve "daycap:hourcap,..." ("" = none), and
--   soft (1: mail over this scope's limits still goes, held or tagged, so
--   they do not stop a commit from counting);
--   then the top index key prefix ("<prefix>:v1:top:"), the plan table, the
--   reputation thresholds min_sends, warn, halve, refuse_cold, refuse_all
--   (ppm; 0 = off), the message's Message-ID hash ("" none), the days and
--   the most Message-IDs kept per sender, and the internal messages to add
--   (a message whose recipients are all local: 1 with messages to add 0).
--
-- PLAN OVERRIDE: when KEYS[6] names a plan of the table in the last ARGV
--   ("name|mh|md|rh|rd|nd|ih|id|curve|soft;..."), its limits, curve and softness
--   replace the sender scope's; the reply says which plan (table index, -1
--   none). An override naming a plan the table lacks (a postmeter not yet
--   reloaded after "postmeterctl plan set") is not applied: the reply's plan
--   is -2, and KEYS[14] holds the name for a day, for postmeterctl status.
--
-- CREDITS: grants "g:<id>" = "msgs:rcpts:expires:granted_m:granted_r:at".
--   When only sender-scope plan counters do not fit (never warm-up, domain
--   or a request larger than the limit), unexpired credits can make up for
--   them: a message over a message counter needs one message credit, its
--   external recipients over a recipient counter need as many recipient
--   credits. Commit and force spend them, earliest expiry first, and log a
--   "spend" movement; a probe only looks.
--
-- REPUTATION: over the last 7 UTC days, sent = external recipients counted
--   ("s:<day>"), hard = hard bounces ("b:<day>"); with at least min_sends,
--   rate = hard / sent (parts per million) gives a level: 1 at warn (logged
--   and tagged), 2 at halve (the sender's limits are halved and its warm-up
--   stage holds), 3 at refuse_cold (first-contact recipients are refused),
--   4 at refuse_all (every external recipient is refused). Counter 9 is the
--   first-contact refusal, 10 the full stop; neither has a retry time (-1).
--
-- IDEMPOTENCE: a commit or force that counted records its reply in KEYS[13]
--   (msgpack, TTL 1200 s); the same request again (postmeter asking once more
--   after a reply lost to a timeout, or a client sending the same message
--   again after the 4xx that timeout caused) gets that reply back and counts
--   nothing. A request that did not count records nothing, so a retry is
--   decided afresh.
--
-- REPLY (integers)
--   fits, counted, over_scope, over_counter, over_limit, over_used,
--   retry_at, now, then for scope 0 and scope 1 the seven counters (after the
--   request when counted, before otherwise; zeros for an unused scope), then
--   for scope 0 and scope 1 the warm-up: active, stage, day_cap, hour_cap,
--   today, bounce_ppm; then cold: the cold recipients of the message
--   (including ARGV[9]); then plan (override's table index or -1),
--   credit messages spent, credit recipients spent, credit messages left,
--   credit recipients left; then reputation: sent, hard, blocks, replies,
--   rate (ppm), level; last, the suppression entry of the probed recipient:
--   since (store time, 0 when none), status, sender (strings), ttl. over_* and
--   retry_at describe the exceeded limit that refuses: one of a scope that
--   is not soft, or a reputation brake, when any is exceeded, else one of a
--   soft scope; among those the one that frees up last (retry_at -1,
--   "never", first; then the latest retry_at; ties in scope order, then
--   counter order: 0-6 the counters, 7 the warm-up day cap, 8 the warm-up
--   hour cap); all zeros when everything fits.
--
-- SPDX-License-Identifier: BSD-2-Clause

local WINDOW = {h = 3600, d = 86400}
local COUNTERS = {'mh', 'md', 'rh', 'rd', 'nd', 'ih', 'id'}
local NCOUNTERS = #COUNTERS
local ARGS_PER_SCOPE = NCOUNTERS + 4
local WARMUP_DAY, WARMUP_HOUR = 7, 8
local S_DORMANT, S_MAXPPM, S_CURVE, S_SOFT = NCOUNTERS + 1, NCOUNTERS + 2, NCOUNTERS + 3,
                                             NCOUNTERS + 4

local mode = tonumber(ARGV[1])
local bucket = {h = tonumber(ARGV[4]), d = tonumber(ARGV[5])}
local ct_ttl = tonumber(ARGV[6])
local ct_max = tonumber(ARGV[7])
local company_wide = ARGV[8] == '1'
local nhashes = tonumber(ARGV[10])
local scope_base = 10 + nhashes
local nscopes = 1
if #KEYS >= 16 then
    nscopes = 2
end
local KEY_TX = KEYS[13]
if ARGV[1] ~= '0' and KEY_TX ~= '' then
    local done = redis.call('GET', KEY_TX)
    if done then
        return cmsgpack.unpack(done)
    end
end
local top_prefix = ARGV[scope_base + nscopes * ARGS_PER_SCOPE + 1]
local plan_table = ARGV[scope_base + nscopes * ARGS_PER_SCOPE + 2] or ''
local KEY_PLAN, KEY_CR, KEY_CRLOG, KEY_REP, KEY_SUP = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local KEY_LC, KEY_MID = KEYS[11], KEYS[12]
local rep_args = scope_base + nscopes * ARGS_PER_SCOPE + 3
local mid_hash, mid_days, mid_max = ARGV[rep_args + 5] or '', tonumber(ARGV[rep_args + 6]) or 0,
                                    tonumber(ARGV[rep_args + 7]) or 0
local REP_COLD, REP_STOP = 9, 10
local rep = {level = 0} -- the sender's reputation, read below

-- The keys of scope si: windows, warm-up.
local function scope_keys(si)
    if si == 1 then
        return KEYS[2], KEYS[3]
    end
    return KEYS[15], KEYS[16]
end

-- The day each recipient hash was last counted for the sender (and for the
-- company when looked up there); false when absent.
local seen, seen_d = {}, {}

-- 1 when a recipient hash is a known contact of the sender (mailed, or
-- learned from incoming mail) or of the company.
local function known(h)
    local d = tonumber(redis.call('HGET', KEYS[4], h))
    seen[h] = d or false
    if d and today - d < ct_ttl then
        return true
    end
    d = tonumber(redis.call('HGET', KEY_LC, h))
    if d and today - d < ct_ttl then
        return true
    end
    if company_wide then
        d = tonumber(redis.call('HGET', KEYS[5], h))
        seen_d[h] = d or false
        return d ~= nil and today - d < ct_ttl
    end
    return false
end

local cold = tonumber(ARGV[9])
for i = 1, nhashes do
    if not known(ARGV[10 + i]) then
        cold = cold + 1
    end
end
local add = {m = tonumber(ARGV[2]), r = tonumber(ARGV[3]), n = cold,
             i = tonumber(ARGV[rep_args + 8]) or 0}

-- The bucket lengths the totals of a window hash are kept for ("cfg").
local CFG = ARGV[4] .. '/' .. ARGV[5]

-- One counter c of window w: bucket length b (bs as the field text), buckets
-- per window n, current bucket k (sk as text), first live bucket k - n, the
-- bucket field prefix, the totals field and the current bucket's field.
local function counter(c, w, bs, b, k, sk)
    local n, tot = WINDOW[w] / b, c .. bs
    return {c = c, w = w, b = b, n = n, k = k, first = k - n, pre = tot .. ':', tot = tot,
            cur = tot .. ':' .. sk}
end

local kh, kd = math.floor(now / bucket.h), math.floor(now / bucket.d)
local skh, skd = tostring(kh), tostring(kd)
local CTR = {counter('mh', 'h', ARGV[4], bucket.h, kh, skh),
             counter('md', 'd', ARGV[5], bucket.d, kd, skd),
             counter('rh', 'h', ARGV[4], bucket.h, kh, skh),
             counter('rd', 'd', ARGV[5], bucket.d, kd, skd),
             counter('nd', 'd', ARGV[5], bucket.d, kd, skd),
             counter('ih', 'h', ARGV[4], bucket.h, kh, skh),
             counter('id', 'd', ARGV[5], bucket.d, kd, skd)}
local BY, HFIELDS, OWN = {}, {'cfg'}, {cfg = true}
for _, x in ipairs(CTR) do
    BY[x.c] = x
    HFIELDS[#HFIELDS + 1] = x.tot
    HFIELDS[#HFIELDS + 1] = x.cur
    OWN[x.tot] = true
end

-- Write a scope's bucket-length stamp and every counter's "total:lo:hi".
local function write_totals(key, s, extra)
    local set = extra or {}
    set[#set + 1] = 'cfg'
    set[#set + 1] = CFG
    for _, x in ipairs(CTR) do
        set[#set + 1] = x.tot
        set[#set + 1] = string.format('%d:%d:%d', s.used[x.c], s.lo[x.c], s.hi[x.c])
    end
    redis.call('HSET', key, unpack(set))
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
    local del, fold = {}, {}
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
                    fold[#fold + 1] = {x.pre .. j, v}
                    del[#del + 1] = f
                end
                s.used[c] = s.used[c] + v
                s.hi[c] = math.max(s.hi[c], j)
                if j == x.k then
                    s.cur[c] = (s.cur[c] or 0) + v
                end
            end
        elseif not OWN[f] then
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
    local s = {used = {}, lo = {}, hi = {}, cur = {}, gone = {}}
    local v = redis.call('HMGET', key, unpack(HFIELDS))
    local parsed, i = v[1] == CFG, 1
    while parsed and i <= NCOUNTERS do
        local x = CTR[i]
        local t, lo, hi = string.match(v[2 * i] or '', '^(%d+):(%d+):(%d+)$')
        lo, hi = tonumber(lo), tonumber(hi)
        parsed = t ~= nil and lo <= hi and hi - lo <= 2 * x.n + 2
        if parsed then
            s.used[x.c], s.lo[x.c], s.hi[x.c] = tonumber(t), lo, hi
            s.cur[x.c] = tonumber(v[2 * i + 1])
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
    -- where some are still counted) and take them off
    local ask, from = {}, {}
    for _, x in ipairs(CTR) do
        local c, lo, hi = x.c, s.lo[x.c], s.hi[x.c]
        for k = lo, math.min(hi, x.first - 1) do
            s.gone[#s.gone + 1] = x.pre .. k
            if hi >= x.first then
                ask[#ask + 1] = s.gone[#s.gone]
                from[#ask] = c
            end
        end
        if hi < x.first then
            s.used[c] = 0
        end
        s.lo[c], s.hi[c] = math.max(lo, x.first), math.max(hi, x.k)
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
            fields[#fields + 1] = x.pre .. j
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

-- Parse a curve "d:h,d:h" into a list of {day_cap, hour_cap}.
local function parse_curve(text)
    local curve = {}
    for d, h in string.gmatch(text, '(%d+):(%d+)') do
        table.insert(curve, {tonumber(d), tonumber(h)})
    end
    return curve
end

-- A scope's warm-up state as of today, before this request; nil without a curve.
local function warmup_state(key, dormant, max_ppm, curve)
    if #curve == 0 then
        return nil
    end
    local f = redis.call('HMGET', key, 'start', 'stage', 'last', 'today')
    local w = {start = tonumber(f[1]), stage = tonumber(f[2]) or 0, last = tonumber(f[3]),
               today = tonumber(f[4]) or 0, ppm = rep.ppm}
    w.stored_last = w.last
    if not w.last or not w.start or today - w.last >= dormant then
        w.start, w.stage, w.today = today, 0, 0
    elseif w.last < today then
        if w.ppm <= max_ppm and rep.level < 2 then
            w.stage = w.stage + 1
        end
        w.today = 0
    end
    local c = curve[w.stage + 1]
    if c then
        w.day_cap, w.hour_cap = c[1], c[2]
    end
    return w
end

-- The sender's plan override: its table index and its eight values, or -1.
local function override()
    local name = redis.call('GET', KEY_PLAN)
    if not name then
        return -1, nil
    end
    local idx = 0
    for entry in string.gmatch(plan_table, '[^;]+') do
        local f = {}
        for v in string.gmatch(entry .. '|', '([^|]*)|') do
            table.insert(f, v)
        end
        if f[1] == name then
            return idx, f
        end
        idx = idx + 1
    end
    if redis.call('GET', KEYS[14]) ~= name then
        redis.call('SET', KEYS[14], name, 'EX', DAY)
    end
    return -2, nil
end

local plan_idx, plan_vals = override()
local sargv = {}
for i = 1, ARGS_PER_SCOPE do
    sargv[i] = ARGV[scope_base + i]
end
if plan_vals then
    for i = 1, NCOUNTERS do
        sargv[i] = plan_vals[i + 1]
    end
    sargv[S_CURVE] = plan_vals[NCOUNTERS + 2] or ''
    sargv[S_SOFT] = plan_vals[NCOUNTERS + 3] or sargv[S_SOFT]
end

-- The sender's reputation over the last 7 UTC days.
local function reputation()
    local r = {sent = 0, hard = 0, blocks = 0, replies = 0, ppm = 0, level = 0}
    local flat = redis.call('HGETALL', KEY_REP)
    for i = 1, #flat, 2 do
        local k, d = string.match(flat[i], '^([sbkr]):(%d+)$')
        local v = tonumber(flat[i + 1]) or 0
        if k and today - tonumber(d) < 7 then
            if k == 's' then
                r.sent = r.sent + v
            elseif k == 'b' then
                r.hard = r.hard + v
            elseif k == 'k' then
                r.blocks = r.blocks + v
            else
                r.replies = r.replies + v
            end
        end
    end
    if r.sent > 0 then
        r.ppm = math.floor(r.hard * 1000000 / r.sent)
    end
    local min = tonumber(ARGV[rep_args]) or 0
    if r.sent >= min and r.sent > 0 then
        for level = 4, 1, -1 do
            local threshold = tonumber(ARGV[rep_args + level]) or 0
            if threshold > 0 and r.ppm >= threshold then
                r.level = level
                break
            end
        end
    end
    return r
end

rep = reputation()
if rep.level >= 2 then
    for i = 1, 5 do
        local l = tonumber(sargv[i])
        if l > 0 then
            sargv[i] = math.max(1, math.floor(l / 2))
        end
    end
end

-- Argument k (1-8) of scope si.
local function sarg(si, k)
    if si == 1 then
        return sargv[k]
    end
    return ARGV[scope_base + ARGS_PER_SCOPE + k]
end

local scopes = {}
local fits = 1
local over = {0, 0, 0, 0, 0}
local over_hard = false -- the limit in over refuses (not a soft scope's)
local hard = false      -- some exceeded limit refuses
local creditable = true
local need_credit = {m = 0, r = 0}

-- Note a limit that does not fit; keep one that refuses over a soft scope's,
-- then the one that frees up last.
local function violate(si, ci, limit, used, r)
    local h = ci >= REP_COLD or sarg(si, S_SOFT) ~= '1'
    if fits == 1 or (h and not over_hard) or
        (h == over_hard and over[5] ~= -1 and (r == -1 or r > over[5])) then
        over = {si - 1, ci, limit, used, r}
        over_hard = h
    end
    hard = hard or h
    fits = 0
    if si ~= 1 or ci > 4 or r == -1 then
        creditable = false -- credits buy outgoing messages and recipients only
    elseif ci <= 1 then
        need_credit.m = add.m
    else
        need_credit.r = math.max(need_credit.r, ci == 4 and add.n or add.r)
    end
end

for si = 1, nscopes do
    local wkey, wukey = scope_keys(si)
    local s = read_scope(wkey)
    scopes[si] = s
    for ci, c in ipairs(COUNTERS) do
        local limit = tonumber(sarg(si, ci))
        local a = add[string.sub(c, 1, 1)]
        local used = s.used[c]
        if limit > 0 and a > 0 and used + a > limit then
            local r = -1
            if a <= limit then
                r = retry_at(wkey, s, CTR[ci], used + a - limit)
            end
            violate(si, ci - 1, limit, used, r)
        end
    end
    local w = warmup_state(wukey, tonumber(sarg(si, S_DORMANT)), tonumber(sarg(si, S_MAXPPM)),
                           parse_curve(sarg(si, S_CURVE)))
    s.warmup = w
    if w and w.day_cap and add.m > 0 then
        if w.today + add.m > w.day_cap then
            local r = (today + 1) * DAY
            if add.m > w.day_cap then
                r = -1
            end
            violate(si, WARMUP_DAY, w.day_cap, w.today, r)
        end
        if s.used.mh + add.m > w.hour_cap then
            local r = -1
            if add.m <= w.hour_cap then
                r = retry_at(wkey, s, BY.mh, s.used.mh + add.m - w.hour_cap)
            end
            violate(si, WARMUP_HOUR, w.hour_cap, s.used.mh, r)
        end
    end
end

if rep.level >= 4 and add.r > 0 then
    violate(1, REP_STOP, 0, rep.ppm, -1)
elseif rep.level >= 3 and add.n > 0 then
    violate(1, REP_COLD, 0, rep.ppm, -1)
end

-- Unexpired credit grants, earliest expiry first, and their totals.
local function credit_grants()
    local flat = redis.call('HGETALL', KEY_CR)
    local grants, total = {}, {m = 0, r = 0}
    for i = 1, #flat, 2 do
        local m, r, e, gm, gr, at = string.match(flat[i + 1],
            '^(%d+):(%d+):(%d+):(%d+):(%d+):(%d+)$')
        if m and string.sub(flat[i], 1, 2) == 'g:' then
            e = tonumber(e)
            if e == 0 or e > now then
                table.insert(grants, {field = flat[i], m = tonumber(m), r = tonumber(r), e = e,
                                      rest = gm .. ':' .. gr .. ':' .. at})
                total.m = total.m + tonumber(m)
                total.r = total.r + tonumber(r)
            end
        end
    end
    table.sort(grants, function(x, y)
        local ex, ey = x.e == 0 and math.huge or x.e, y.e == 0 and math.huge or y.e
        return ex < ey
    end)
    return grants, total
end

local credit = {spent_m = 0, spent_r = 0, left_m = 0, left_r = 0}
local grants = nil
if fits == 0 and creditable and add.m > 0 then
    local total
    grants, total = credit_grants()
    credit.left_m, credit.left_r = total.m, total.r
    if total.m >= need_credit.m and total.r >= need_credit.r then
        fits = 1
        over = {0, 0, 0, 0, 0}
        credit.spent_m, credit.spent_r = need_credit.m, need_credit.r
    end
end

local counted = 0
if mode == 2 or (mode == 1 and (fits == 1 or not hard)) then
    counted = 1
end

-- Take the spent credits from the grants, earliest expiry first.
local function spend_credits()
    local need = {m = credit.spent_m, r = credit.spent_r}
    for _, g in ipairs(grants) do
        local tm, tr = math.min(g.m, need.m), math.min(g.r, need.r)
        if tm > 0 or tr > 0 then
            g.m, g.r = g.m - tm, g.r - tr
            need.m, need.r = need.m - tm, need.r - tr
            redis.call('HSET', KEY_CR, g.field, g.m .. ':' .. g.r .. ':' .. g.e .. ':' .. g.rest)
        end
    end
    credit.left_m = credit.left_m - credit.spent_m
    credit.left_r = credit.left_r - credit.spent_r
    redis.call('LPUSH', KEY_CRLOG, now .. '\tspend\t' .. credit.spent_m .. '\t' ..
               credit.spent_r .. '\t0\t')
    redis.call('LTRIM', KEY_CRLOG, 0, 199)
    redis.call('EXPIRE', KEY_CRLOG, 400 * DAY)
    redis.call('EXPIRE', KEY_CR, 400 * DAY)
end

-- Remember the recipients as contacts of key (days: what it held), keeping
-- the hash bounded; a recipient already counted today costs no write.
local function remember(key, days)
    local set = {}
    for i = 1, nhashes do
        local h = ARGV[10 + i]
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

if counted == 1 and (add.m > 0 or add.r > 0 or add.i > 0) then
    for si = 1, nscopes do
        local key, wukey = scope_keys(si)
        local s = scopes[si]
        local set, fresh = {}, false
        for _, x in ipairs(CTR) do
            local a = add[string.sub(x.c, 1, 1)]
            if a > 0 then
                set[#set + 1] = x.cur
                set[#set + 1] = (s.cur[x.c] or 0) + a
                fresh = fresh or s.cur[x.c] == nil
                s.used[x.c] = s.used[x.c] + a
            end
        end
        hdel(key, s.gone)
        write_totals(key, s, set)
        if fresh then
            redis.call('EXPIRE', key, WINDOW.d + bucket.d + bucket.h)
        end
        local w = s.warmup
        if w and add.m > 0 then
            w.today = w.today + add.m
            redis.call('HSET', wukey, 'start', w.start, 'stage', w.stage, 'last', today,
                       'today', w.today)
            if w.stored_last ~= today then
                redis.call('EXPIRE', wukey, (tonumber(sarg(si, S_DORMANT)) + 1) * DAY)
            end
        end
    end
    if credit.spent_m > 0 or credit.spent_r > 0 then
        spend_credits()
    end
    if add.r > 0 then
        rep_add(KEY_REP, 's', add.r)
    end
    if mid_hash ~= '' and mid_days > 0 then
        if redis.call('HSET', KEY_MID, mid_hash, today) > 0 then
            day_hash_trim(KEY_MID, mid_days, mid_max)
        end
        redis.call('EXPIRE', KEY_MID, mid_days * DAY)
    end
    if top_prefix and top_prefix ~= '' and add.m > 0 then
        local top = top_prefix .. today
        if tonumber(redis.call('ZINCRBY', top, add.m, string.match(KEYS[2], '{s:(.*)}'))) == add.m then
            redis.call('EXPIRE', top, 8 * DAY)
        end
    end
    if nhashes > 0 then
        remember(KEYS[4], seen)
        if company_wide then
            remember(KEYS[5], seen_d)
        end
    end
end

-- The reply, built in one constructor (Lua sizes it once).
local u1, u2 = scopes[1].used, scopes[2] and scopes[2].used or {}
local function wu(si)
    local w = scopes[si] and scopes[si].warmup
    if w and w.day_cap then
        return 1, w.stage, w.day_cap, w.hour_cap, w.today, w.ppm
    end
    return 0, w and w.stage or 0, 0, 0, w and w.today or 0, w and w.ppm or 0
end
local a1, a2, a3, a4, a5, a6 = wu(1)
local b1, b2, b3, b4, b5, b6 = wu(2)
local reply = {fits, counted, over[1], over[2], over[3], over[4], over[5], now,
               u1.mh, u1.md, u1.rh, u1.rd, u1.nd, u1.ih, u1.id,
               u2.mh or 0, u2.md or 0, u2.rh or 0, u2.rd or 0, u2.nd or 0, u2.ih or 0, u2.id or 0,
               a1, a2, a3, a4, a5, a6, b1, b2, b3, b4, b5, b6,
               cold, plan_idx, credit.spent_m, credit.spent_r, credit.left_m, credit.left_r,
               rep.sent, rep.hard, rep.blocks, rep.replies, rep.ppm, rep.level, 0, '', '', 0}
if string.sub(KEY_SUP, -5) ~= ':sup:' then
    local e = redis.call('HMGET', KEY_SUP, 'at', 'status', 'sender')
    if e[1] then
        local n = #reply
        reply[n - 3], reply[n - 2], reply[n - 1] = tonumber(e[1]) or 0, e[2] or '', e[3] or ''
        reply[n] = redis.call('TTL', KEY_SUP)
    end
end
if counted == 1 and KEY_TX ~= '' then
    redis.call('SET', KEY_TX, cmsgpack.pack(reply), 'EX', 1200)
end
return reply
