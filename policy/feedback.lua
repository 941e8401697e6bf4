-- feedback.lua - record what incoming mail says about a local sender (Redis
-- script): a hard bounce, a policy block, or a reply from a person.
--
-- KEYS
--   KEYS[1]  <prefix>:v1:clock               (string) test clock offset
--   KEYS[2]  <prefix>:v1:{s:<sender>}:rep     (hash) reputation: per UTC day
--            "s:<day>" external recipients sent (written by meter.lua),
--            "b:<day>" hard bounces, "k:<day>" blocks, "r:<day>" replies.
--            TTL 8 days (the 7-day window plus the day under way).
--   KEYS[3]  <prefix>:v1:{s:<sender>}:ct      (hash) the sender's contacts
--   KEYS[4]  <prefix>:v1:sup:<recipient>      (string) suppression entry
--            "<time>|<status>|<sender>", TTL suppress_days.
--
-- ARGV
--   1 kind: "hard", "block" or "reply"; 2 the recipient's contact hash
--   (reply), 3 status code (hard, block), 4 the sender, 5 contacts ttl_days,
--   6 suppression days.
--
-- A hard bounce puts the recipient on the suppression list, counts against
-- the sender and forgets the contact; a block only counts; a reply makes the
-- correspondent a known contact and counts as a reply.
--
-- REPLY: {1, now}
--
-- SPDX-License-Identifier: BSD-2-Clause

local DAY = 86400
local t = redis.call('TIME')
local now = tonumber(t[1]) + math.floor(tonumber(redis.call('GET', KEYS[1]) or 0) or 0)
local today = math.floor(now / DAY)
local kind = ARGV[1]

local field = ({hard = 'b:', block = 'k:', reply = 'r:'})[kind]
if not field then
    return redis.error_reply('feedback: unknown kind ' .. tostring(kind))
end
redis.call('HINCRBY', KEYS[2], field .. today, 1)
redis.call('EXPIRE', KEYS[2], 8 * DAY)
if kind == 'hard' then
    local days = tonumber(ARGV[6])
    redis.call('SET', KEYS[4], now .. '|' .. ARGV[3] .. '|' .. ARGV[4], 'EX', days * DAY)
    if ARGV[2] ~= '' then
        redis.call('HDEL', KEYS[3], ARGV[2])
    end
elseif kind == 'reply' and ARGV[2] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[2], today)
    redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]) * DAY)
end
return {1, now}
