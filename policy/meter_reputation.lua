-- meter_reputation.lua - the meter script's reputation brakes (Redis script
-- piece; after meter_base.lua, before the scopes are checked).
--
-- REPUTATION: over the last 7 UTC days of KEYS[K.rep] (prelude.lua), sent =
--   external recipients counted ("s:<day>"), hard = hard bounces ("b:<day>");
--   with at least A.rep_min of them, rate = hard / sent (parts per million)
--   gives a level: 1 at A.rep_warn (logged and tagged), 2 at A.rep_halve (the
--   sender's outgoing limits are halved and its warm-up stage holds), 3 at
--   A.rep_cold (first-contact recipients are refused), 4 at A.rep_stop (every
--   external recipient is refused). C.rep_cold is the first-contact refusal,
--   C.rep_stop the full stop; neither has a retry time (-1).
-- REPLY RATE: over the last 30 UTC days of KEYS[K.rr] (prelude.lua), first =
--   first-contact recipients mailed ("f:<day>"), replied = those of them that
--   replied ("y:<day>"). With A.rr_min_ppm > 0 (the brake is on), at least
--   A.rr_min_first first contacts and replied / first below it, the sender's
--   new-recipient limit (nd) is halved (at least 1; on top of the bounce
--   rate's halving).
--
-- SPDX-License-Identifier: BSD-2-Clause

-- The sender's reputation over the last 7 UTC days (in line: no closure
-- per call).
do
    local r = {sent = 0, hard = 0, blocks = 0, replies = 0, ppm = 0, level = 0}
    local flat = redis.call('HGETALL', KEYS[K.rep])
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
    local min = tonumber(ARGV[A.rep_min]) or 0
    if r.sent >= min and r.sent > 0 then
        local thresholds = {A.rep_warn, A.rep_halve, A.rep_cold, A.rep_stop}
        for level = 4, 1, -1 do
            local threshold = tonumber(ARGV[thresholds[level]]) or 0
            if threshold > 0 and r.ppm >= threshold then
                r.level = level
                break
            end
        end
    end
    rep = r
end
if rep.level >= 2 then
    for _, c in ipairs({'mh', 'md', 'rh', 'rd', 'nd'}) do -- the outgoing limits
        local l = sv[1].lim[c]
        if l > 0 then
            sv[1].lim[c] = math.max(1, math.floor(l / 2))
        end
    end
end


-- The sender's first contacts over the last 30 UTC days, and their replies:
-- read only when the brake is on, or for status (a request that does not
-- watch incidents, PM_INCM_NONE): not on every message for nothing
if (tonumber(ARGV[A.rr_min_ppm]) or 0) > 0 or (tonumber(ARGV[A.inc_mode]) or 0) == 0 then
    local r = {first = 0, replied = 0, brake = 0}
    local flat = redis.call('HGETALL', KEYS[K.rr])
    for i = 1, #flat, 2 do
        local k, d = string.match(flat[i], '^([fy]):(%d+)$')
        if k and today - tonumber(d) < 30 then
            local v = tonumber(flat[i + 1]) or 0
            if k == 'f' then
                r.first = r.first + v
            else
                r.replied = r.replied + v
            end
        end
    end
    local min_ppm = tonumber(ARGV[A.rr_min_ppm]) or 0
    if min_ppm > 0 and r.first > 0 and r.first >= (tonumber(ARGV[A.rr_min_first]) or 0) and
        r.replied * 1000000 < min_ppm * r.first then
        r.brake = 1
    end
    rr = r
end
if rr.brake == 1 and sv[1].lim.nd > 0 then
    sv[1].lim.nd = math.max(1, math.floor(sv[1].lim.nd / 2))
end
