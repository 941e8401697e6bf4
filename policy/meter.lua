-- meter.lua - postmeter's atomic check-and-count of one request (Redis
-- script). The script postmeter loads is, in this order: prelude.lua (store
-- time), the contract generated from scripts.contract (the positions of
-- every key, argument and reply field), meter_base.lua (the request, its
-- scopes and plan override), meter_windows.lua, meter_contacts.lua,
-- meter_reputation.lua, meter_warmup.lua, meter_credits.lua, then this
-- file: the decision, the count and the reply. The build then writes the
-- contract's key, argument and reply positions (K, A, R) into the code as
-- numbers (inline.awk), so that no call builds tables of them.
--
-- It runs inside Redis (EVALSHA), so checking every limit and counting happen
-- as one step for every mail server sharing this Redis. Time is the Redis
-- server's clock, never a client's.
--
-- DECISION: for each scope, every counter whose limit the request would pass
--   is a violation (its retry time from meter_windows.lua), and so are the
--   warm-up day and hour caps (meter_warmup.lua) and, for the sender, the
--   reputation brakes (meter_reputation.lua). The violation reported is one
--   of a scope that is not soft, or a reputation brake, when any is exceeded,
--   else one of a soft scope; among those the one that frees up last
--   (retry_at -1, "never", first; then the latest retry_at; ties in scope
--   order, then counter order C). Credits (meter_credits.lua) may make up for
--   the sender's plan counters. A commit counts when everything fits or only
--   soft scopes are over; a force always counts.
--
-- COUNT: the current bucket of each counter the request adds to, the totals,
--   the warm-up state, spent credits, the reputation's "s" (external
--   recipients), the reply rate's first contacts (the cold recipients), the Message-ID, the top index <A.top_prefix><day> (sorted set:
--   sender -> messages counted that UTC day, TTL 8 days) and the contacts.
--
-- REPLY: R's fields (scripts.contract). used: per scope the seven counters
--   (after the request when counted, before otherwise; zeros for an unused
--   scope); warmup: per scope active, stage, day_cap, hour_cap, today,
--   bounce_ppm; the suppression entry of the probed recipient, if any.
--
-- SPDX-License-Identifier: BSD-2-Clause

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
    local h = ci >= C.rep_cold or not sv[si].soft
    if fits == 1 or (h and not over_hard) or
        (h == over_hard and over[5] ~= -1 and (r == -1 or r > over[5])) then
        over = {si - 1, ci, limit, used, r}
        over_hard = h
    end
    hard = hard or h
    fits = 0
    if si ~= 1 or ci > C.nd or r == -1 then
        creditable = false -- credits buy outgoing messages and recipients only
    elseif ci <= C.md then
        need_credit.m = add.m
    else
        need_credit.r = math.max(need_credit.r, ci == C.nd and add.n or add.r)
    end
end

for si = 1, nscopes do
    local wkey, wukey = scope_keys(si)
    local s = read_scope(wkey)
    scopes[si] = s
    for ci, c in ipairs(COUNTERS) do
        local limit = sv[si].lim[c]
        local a = add[LETTER[c]]
        local used = s.used[c]
        if limit > 0 and a > 0 and used + a > limit then
            local r = -1
            if a <= limit then
                r = retry_at(wkey, s, CTR[ci], used + a - limit)
            end
            violate(si, C[c], limit, used, r)
        end
    end
    local w = sv[si].curve ~= '' and warmup_state(wukey, sv[si]) or nil
    s.warmup = w
    if w and w.day_cap and add.m > 0 then
        if w.today + add.m > w.day_cap then
            local r = next_wday()
            if add.m > w.day_cap then
                r = -1
            end
            violate(si, C.warmup_day, w.day_cap, w.today, r)
        end
        if s.used.mh + add.m > w.hour_cap then
            local r = -1
            if add.m <= w.hour_cap then
                r = retry_at(wkey, s, BY.mh, s.used.mh + add.m - w.hour_cap)
            end
            violate(si, C.warmup_hour, w.hour_cap, s.used.mh, r)
        end
    end
end

if rep.level >= 4 and add.r > 0 then
    violate(1, C.rep_stop, 0, rep.ppm, -1)
elseif rep.level >= 3 and add.n > 0 then
    violate(1, C.rep_cold, 0, rep.ppm, -1)
end

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

-- FAKE REPLIES: does one of the message's references (A.refs, keyed hashes)
-- name a message the sender sent (mid) within A.mid_days? With A.refs_gate,
-- a commit whose references name none counts nothing: a content rule refuses
-- the message.
local refs_known = -1
if ARGV[A.refs] ~= '' then
    refs_known = 0
    local mid_days = tonumber(ARGV[A.mid_days]) or 0
    for h in string.gmatch(ARGV[A.refs], '%x+') do
        local d = tonumber(redis.call('HGET', KEYS[K.mid], h))
        if d and today - d < mid_days then
            refs_known = 1
            break
        end
    end
    if refs_known == 0 and ARGV[A.refs_gate] == '1' then
        counted = 0
    end
end

-- INCIDENTS (meter_incident.lua): A.inc_mode 0 none (status probes), 1 a
-- sender in incident is reported and its request counts nothing, 2 the
-- signals too, 3 dry: reported and detected, nothing written but the rates.
local inc_state, inc = 0, nil
if inc_mode > 0 then
    local refused = fits == 0 and over_hard
    local counts = ARGV[A.inc_count] == '1'
    inc = incident_read()
    if inc then
        inc_state = 1
        if inc_mode ~= 3 then
            counted = 0
            if counts then
                incident_note(inc, ARGV[A.inc_qid])
            end
        end
    else
        -- the refusals to count: this request's (the first of its message),
        -- and those the server decided alone since its last request (A.inc_local)
        local nref, loc = 0, tonumber(ARGV[A.inc_local]) or 0
        if refused and ARGV[A.inc_refusal] == '1' then
            hits_record(over[2], 1)
            nref = 1
        end
        if loc > 0 then
            hits_record(tonumber(ARGV[A.inc_local_c]) or 0, loc)
            nref = nref + loc
        end
        local goes = mode ~= 0 and counted == 1 and add.m > 0
        -- only a message that goes or a counted refusal can trip a signal: a
        -- probe that fits (each RCPT) costs nothing here, nor do signals all off
        if inc_mode >= 2 and (goes or nref > 0) and incident_watched() then
            incident_signals()
            local sig, fig = incident_detect(nref, goes)
            if sig and inc_mode == 3 then
                inc_state, inc = 3, {signal = sig, figures = fig, by = 'postmeter', at = now}
            elseif sig then
                inc_state, inc, counted = 2, incident_open(sig, fig, counts or goes), 0
            end
        end
    end
end

-- Add the request to scope si's windows and warm-up.
local function count_scope(si)
    local key, wukey = scope_keys(si)
    local s = scopes[si]
    local set, fresh = {}, false
    for _, x in ipairs(CTR) do
        local a = add[x.l]
        if a > 0 then
            set[#set + 1] = x.cur
            set[#set + 1] = (s.cur[x.c] or 0) + a
            fresh = fresh or s.cur[x.c] == nil
            s.used[x.c] = s.used[x.c] + a
            if s.dirty then
                s.dirty[x.c] = true
            end
        end
    end
    hdel(key, s.gone)
    write_totals(key, s, set)
    if fresh then
        redis.call('EXPIRE', key, WINDOW.d + bucket.d + bucket.h)
    end
    if s.warmup and add.m > 0 then
        warmup_count(wukey, s.warmup, sv[si])
    end
end

if counted == 1 and (add.m > 0 or add.r > 0 or add.i > 0) then
    for si = 1, nscopes do
        count_scope(si)
    end
    if credit.spent_m > 0 or credit.spent_r > 0 then
        spend_credits()
    end
    if add.r > 0 then
        rep_add(KEYS[K.rep], 's', add.r)
    end
    if #cold_h > 0 then -- the reply rate's first contacts
        rep_add(KEYS[K.rr], 'f', #cold_h, RR_DAYS)
        local set = {}
        for _, h in ipairs(cold_h) do
            set[#set + 1] = h
            set[#set + 1] = today
        end
        redis.call('HSET', KEYS[K.fc], unpack(set))
        redis.call('EXPIRE', KEYS[K.fc], RR_DAYS * DAY)
        day_hash_trim(KEYS[K.fc], RR_DAYS, ct_max)
    end
    local mid_days = tonumber(ARGV[A.mid_days]) or 0
    if ARGV[A.mid_hash] ~= '' and mid_days > 0 then
        if redis.call('HSET', KEYS[K.mid], ARGV[A.mid_hash], today) > 0 then
            day_hash_trim(KEYS[K.mid], mid_days, tonumber(ARGV[A.mid_max]) or 0)
        end
        redis.call('EXPIRE', KEYS[K.mid], mid_days * DAY)
    end
    if ARGV[A.top_prefix] ~= '' and add.m > 0 then
        local top = ARGV[A.top_prefix] .. today
        if tonumber(redis.call('ZINCRBY', top, add.m, inc_sender)) == add.m then
            redis.call('EXPIRE', top, 8 * DAY)
        end
    end
    if first_hash <= #ARGV then
        remember(KEYS[K.ct], seen)
        if company_wide then
            remember(KEYS[K.dct], seen_d)
        end
    end
end

-- The reply, in the contract's positions: NR zeros made at once (one table
-- of its final size, not one grown field by field), then the figures.
local reply = {string.byte(string.rep('\0', NR), 1, NR)}
reply[R.fits], reply[R.counted], reply[R.now], reply[R.cold] = fits, counted, now, cold
reply[R.over_scope], reply[R.over_counter], reply[R.over_limit] = over[1], over[2], over[3]
reply[R.over_used], reply[R.retry_at], reply[R.plan] = over[4], over[5], plan_idx
reply[R.cr_spent_m], reply[R.cr_spent_r] = credit.spent_m, credit.spent_r
reply[R.cr_left_m], reply[R.cr_left_r] = credit.left_m, credit.left_r
reply[R.rep_sent], reply[R.rep_hard], reply[R.rep_blocks] = rep.sent, rep.hard, rep.blocks
reply[R.rep_replies], reply[R.rep_ppm], reply[R.rep_level] = rep.replies, rep.ppm, rep.level
reply[R.sup_status], reply[R.sup_sender] = '', ''
for si = 1, nscopes do
    local s, base = scopes[si], R.warmup + (si - 1) * 6
    for ci, c in ipairs(COUNTERS) do
        reply[R.used + (si - 1) * #COUNTERS + ci - 1] = s.used[c]
    end
    local w = s.warmup
    if w then
        reply[base + 1], reply[base + 4], reply[base + 5] = w.stage, w.today, w.ppm
        if w.day_cap then
            reply[base], reply[base + 2], reply[base + 3] = 1, w.day_cap, w.hour_cap
        end
    end
end
if string.sub(KEYS[K.sup], -5) ~= ':sup:' then
    local e = redis.call('HMGET', KEYS[K.sup], 'at', 'status', 'sender')
    if e[1] then
        reply[R.sup_at], reply[R.sup_status] = tonumber(e[1]) or 0, e[2] or ''
        reply[R.sup_sender], reply[R.sup_ttl] = e[3] or '', redis.call('TTL', KEYS[K.sup])
    end
end
reply[R.inc_state], reply[R.inc_signal], reply[R.inc_figures] = inc_state, '', ''
reply[R.inc_by], reply[R.inc_note], reply[R.inc_ids] = '', '', ''
if inc then
    reply[R.inc_signal], reply[R.inc_figures] = inc.signal or '', inc.figures or ''
    reply[R.inc_by], reply[R.inc_note], reply[R.inc_ids] = inc.by or '', inc.note or '', inc.ids or ''
    reply[R.inc_at], reply[R.inc_until] = tonumber(inc.at) or 0, tonumber(inc['until']) or 0
    reply[R.inc_held] = tonumber(inc.held) or 0
end
reply[R.rr_first], reply[R.rr_replied], reply[R.rr_brake] = rr.first, rr.replied, rr.brake
reply[R.refs_known] = refs_known
reply[R.cold_first] = cold_first
if counted == 1 and has_tx then
    redis.call('SET', KEYS[K.tx], cmsgpack.pack(reply), 'EX', 1200)
end
return reply
