-- grants.lua - the layout of credit grants and their movements, shared by
-- the meter script (meter_credits.lua spends them) and the credit script
-- (credit.lua grants and revokes them); Redis script piece, after the
-- prelude and the script's contract, whose K.cr and K.crlog name the keys.
--
-- GRANTS: KEYS[K.cr] <prefix>:v2:{C}:s:<sender>:cr, a hash: field
--   "g:<id>" = "msgs_left:rcpts_left:expires:msgs_granted:rcpts_granted:
--   granted_at" (expires 0: never), the ids from HINCRBY of field "seq".
-- MOVEMENTS: KEYS[K.crlog] <prefix>:v2:{C}:s:<sender>:crlog, a list, newest
--   first, of "time\tevent\tmsgs\trcpts\texpires\tnote" (event grant,
--   revoke or spend), at most CRLOG_MAX lines.
-- Both keys are kept CREDIT_KEEP_DAYS from their last movement.
--
-- SPDX-License-Identifier: BSD-2-Clause

local CREDIT_KEEP_DAYS = 400
local CRLOG_MAX = 200

-- A field of the grants hash as a grant, or nil when it is none.
local function grant_parse(field, value)
    if string.sub(field, 1, 2) ~= 'g:' then
        return nil
    end
    local m, r, e, gm, gr, at = string.match(value, '^(%d+):(%d+):(%d+):(%d+):(%d+):(%d+)$')
    if not m then
        return nil
    end
    return {field = field, m = tonumber(m), r = tonumber(r), e = tonumber(e),
            gm = tonumber(gm), gr = tonumber(gr), at = tonumber(at)}
end

-- True when a grant still counts now.
local function grant_live(g)
    return g.e == 0 or g.e > now
end

-- Write a grant.
local function grant_write(g)
    redis.call('HSET', KEYS[K.cr], g.field,
               g.m .. ':' .. g.r .. ':' .. g.e .. ':' .. g.gm .. ':' .. g.gr .. ':' .. g.at)
end

-- Log one movement, and keep both keys CREDIT_KEEP_DAYS from now.
local function crlog_push(event, m, r, e, note)
    redis.call('LPUSH', KEYS[K.crlog],
               now .. '\t' .. event .. '\t' .. m .. '\t' .. r .. '\t' .. e .. '\t' .. note)
    redis.call('LTRIM', KEYS[K.crlog], 0, CRLOG_MAX - 1)
    redis.call('EXPIRE', KEYS[K.crlog], CREDIT_KEEP_DAYS * DAY)
    redis.call('EXPIRE', KEYS[K.cr], CREDIT_KEEP_DAYS * DAY)
end
