-- credit.lua - grant or revoke credits ("stamps") for postmeterctl credit
-- add|revoke (Redis script, after the prelude, its contract and grants.lua,
-- whose layout it writes). The grant, its movement, the trim and the TTLs
-- happen together.
--
-- ADD (A.op "add"): A.msgs and A.rcpts, expiring at A.expires (A.relative
--   "1": seconds from now; else a store time; 0 never). A hash holding
--   A.max_grants live grants refuses more (result -1); a full one first
--   drops its spent and expired grants. An expiry already past: result 0.
--   Else result is the new grant's id.
-- REVOKE (A.op "revoke"): grant A.id is deleted (result 1) with what was
--   left of it, or there was none (result 0).
--
-- SPDX-License-Identifier: BSD-2-Clause

local function reply(result, e, m, r)
    local out = {}
    out[R.result], out[R.now], out[R.expires], out[R.msgs], out[R.rcpts] = result, now, e, m, r
    return out
end

if ARGV[A.op] == 'revoke' then
    local field = 'g:' .. ARGV[A.id]
    local v = redis.call('HGET', KEYS[K.cr], field)
    if not v then
        return reply(0, 0, 0, 0)
    end
    local g = grant_parse(field, v) or {m = 0, r = 0, e = 0}
    redis.call('HDEL', KEYS[K.cr], field)
    crlog_push('revoke', g.m, g.r, g.e, ARGV[A.note])
    return reply(1, g.e, g.m, g.r)
end

local e = tonumber(ARGV[A.expires])
if ARGV[A.relative] == '1' and e ~= 0 then
    e = now + e
end
if e ~= 0 and e <= now then
    return reply(0, e, 0, 0)
end
local flat, dead, live = redis.call('HGETALL', KEYS[K.cr]), {}, 0
for i = 1, #flat, 2 do
    local g = grant_parse(flat[i], flat[i + 1])
    if g and ((g.m == 0 and g.r == 0) or not grant_live(g)) then
        dead[#dead + 1] = g.field
    elseif g then
        live = live + 1
    end
end
local max = tonumber(ARGV[A.max_grants])
if live >= max then
    return reply(-1, e, 0, 0)
end
if live + #dead >= max then
    redis.call('HDEL', KEYS[K.cr], unpack(dead))
end
local id = redis.call('HINCRBY', KEYS[K.cr], 'seq', 1)
local m, r = tonumber(ARGV[A.msgs]), tonumber(ARGV[A.rcpts])
grant_write({field = 'g:' .. id, m = m, r = r, e = e, gm = m, gr = r, at = now})
crlog_push('grant', m, r, e, ARGV[A.note])
return reply(id, e, m, r)
