-- server.lua - one postmeter daemon's heartbeat (Redis script, after the
-- prelude and its contract), written about once a minute by milter/watch.c
-- and read by postmeterctl servers (store_redis_server.c).
--
-- SERVER HASH <prefix>:v2:{@}:srv:<host>:<milter.socket>: host, socket,
--   version, pid, started, beat, conns, last_conn, postfix (running,
--   stopped, unknown), postfix_pid, idle_alarm, quiet_since, alarm,
--   alarm_at. The daemon measures ages on its own clock; this script turns
--   them into store time (now - age; 0 for none), so every server's times
--   are on the one clock. TTL A.keep: a server that stops writing vanishes.
-- INDEX <prefix>:v2:{@}:srv: a sorted set of the servers' IDs by the store
--   time of their last heartbeat; members older than A.keep are removed, and
--   at most the 1000 newest kept. TTL A.keep.
-- Both keys carry the hash tag {srv}: one slot in a Redis Cluster.
-- The reply: store time.
--
-- SPDX-License-Identifier: BSD-2-Clause

local function at(age)
    local v = tonumber(age)
    if not v or v < 0 then
        return 0
    end
    return now - v
end

local keep = tonumber(ARGV[A.keep])
local alarm_at = at(ARGV[A.alarm_ago])
redis.call('HSET', KEYS[K.srv], 'host', ARGV[A.host], 'socket', ARGV[A.socket],
    'version', ARGV[A.version], 'pid', ARGV[A.pid], 'started', at(ARGV[A.up]), 'beat', now,
    'conns', ARGV[A.conns], 'last_conn', at(ARGV[A.conn_ago]), 'postfix', ARGV[A.postfix],
    'postfix_pid', ARGV[A.postfix_pid], 'idle_alarm', ARGV[A.idle_alarm],
    'quiet_since', at(ARGV[A.quiet]), 'alarm', alarm_at > 0 and 1 or 0, 'alarm_at', alarm_at)
redis.call('EXPIRE', KEYS[K.srv], keep)
redis.call('ZADD', KEYS[K.index], now, ARGV[A.id])
redis.call('ZREMRANGEBYSCORE', KEYS[K.index], '-inf', '(' .. (now - keep))
redis.call('ZREMRANGEBYRANK', KEYS[K.index], 0, -1001)
redis.call('EXPIRE', KEYS[K.index], keep)
local out = {}
out[R.now] = now
return out
