-- learning.lua - the start of the installation's learning period (Redis
-- script, after the prelude and its contract): postmeter (with learning.days
-- set) asks at start, at every reload and then hourly; postmeterctl status
-- only reads.
--
-- START: KEYS[K.start] <prefix>:v2:{@}:learning, a string: the store time the
--   first postmeter started with learning.days set. With A.record "1" and no
--   start kept, now becomes the start (SET NX: every server sharing the
--   store learns from the same moment, whichever started first), and the
--   key is kept A.keep seconds from now, renewed by every daemon's ask, so
--   it outlives every running postmeter; once no postmeter has asked for
--   that long (the contacts it learned have expired too), a new start
--   begins a new learning period.
-- The reply is store time and the start (0 when none is kept).
--
-- SPDX-License-Identifier: BSD-2-Clause

local out = {}
out[R.now] = now
local start = tonumber(redis.call('GET', KEYS[K.start]) or '')
if ARGV[A.record] == '1' then
    if not start then
        start = now
        redis.call('SET', KEYS[K.start], start)
    end
    redis.call('EXPIRE', KEYS[K.start], tonumber(ARGV[A.keep]))
end
out[R.start] = start or 0
return out
