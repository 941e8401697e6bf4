-- meter_credits.lua - the meter script's credits ("stamps"; Redis script
-- piece, after grants.lua and meter_base.lua).
--
-- CREDITS: the grants of KEYS[K.cr] (grants.lua: their layout; written by
--   postmeterctl credit add, credit.lua). When only
--   sender-scope plan counters do not fit (never warm-up, domain, internal
--   counters or a request larger than the limit), unexpired credits can make
--   up for them: a message over a message counter needs one message credit,
--   its external recipients over a recipient counter need as many recipient
--   credits. Commit and force spend them, earliest expiry first, and log a
--   "spend" movement in KEYS[K.crlog]; a probe only looks.
--
-- SPDX-License-Identifier: BSD-2-Clause

local credit = {spent_m = 0, spent_r = 0, left_m = 0, left_r = 0}
local grants = nil

-- Unexpired credit grants, earliest expiry first, and their totals.
local function credit_grants()
    local flat = redis.call('HGETALL', KEYS[K.cr])
    local list, total = {}, {m = 0, r = 0}
    for i = 1, #flat, 2 do
        local g = grant_parse(flat[i], flat[i + 1])
        if g and grant_live(g) then
            table.insert(list, g)
            total.m = total.m + g.m
            total.r = total.r + g.r
        end
    end
    table.sort(list, function(x, y)
        local ex, ey = x.e == 0 and math.huge or x.e, y.e == 0 and math.huge or y.e
        return ex < ey
    end)
    return list, total
end

-- Take the spent credits from the grants, earliest expiry first.
local function spend_credits()
    local need = {m = credit.spent_m, r = credit.spent_r}
    for _, g in ipairs(grants) do
        local tm, tr = math.min(g.m, need.m), math.min(g.r, need.r)
        if tm > 0 or tr > 0 then
            g.m, g.r = g.m - tm, g.r - tr
            need.m, need.r = need.m - tm, need.r - tr
            grant_write(g)
        end
    end
    credit.left_m = credit.left_m - credit.spent_m
    credit.left_r = credit.left_r - credit.spent_r
    crlog_push('spend', credit.spent_m, credit.spent_r, 0, '')
end
