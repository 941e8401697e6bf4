-- warmup.lua - restart or shorten a warm-up for postmeterctl warmup
-- reset|skip (Redis script, after the prelude, its contract and
-- warmup_state.lua, whose layout it writes).
--
-- RESET (A.stage -1): KEYS[K.wu] is deleted; the next message starts the
--   curve at stage 0.
-- SKIP (A.stage N >= 0): stage N is written as if it had been active today
--   (warm-up day of A.offset), so today's cap is stage N's and the curve
--   moves on from there; the hash is kept A.keep seconds (dormant + 1 days).
-- The reply says whether there was a state before, and the warm-up day.
--
-- SPDX-License-Identifier: BSD-2-Clause

local out = {}
out[R.had] = redis.call('EXISTS', KEYS[K.wu])
out[R.day] = warmup_day(tonumber(ARGV[A.offset]))
local stage = tonumber(ARGV[A.stage])
if stage < 0 then
    redis.call('DEL', KEYS[K.wu])
    return out
end
warmup_write(KEYS[K.wu], {start = out[R.day], stage = stage, today = 0}, out[R.day])
redis.call('EXPIRE', KEYS[K.wu], tonumber(ARGV[A.keep]))
return out
