-- feedback.lua - what one incoming message says about one local mailbox
-- (Redis script; prelude.lua and the contract generated from
-- scripts.contract come first): the failures a bounce reports, or the author
-- of a person's message.
--
-- Incoming mail is written by strangers, so nothing here is taken on its
-- word: a bounce counts only for a recipient the mailbox really mailed
-- lately, once per message sent to it; a message is a reply only when it
-- names a Message-ID the mailbox really sent; other mail from a person
-- teaches at most a few contacts a day.
--
-- KEYS (K) and ARGV (A) are named in scripts.contract. After the keys K.*,
--   a bounce passes one suppression entry <prefix>:v2:{<company>}:sup:<address>
--   (hash: at, status, sender) per failed recipient (the caller notes its
--   changes in the stream of suppression changes, before and after the
--   call: store_redis_supnote.c; no script writes it); after the args A.*, per
--   failed recipient: contact hash, class ("hard" or "block"), status code;
--   or, for a person's message, the keyed hashes of the Message-IDs it
--   refers to (In-Reply-To, References).
--
-- BOUNCE: a failed recipient counts when the sender mailed it within the
--   bounce window (ct) and no bounce was counted yet for that sending (fb):
--   a hard failure then puts the recipient on the company's suppression
--   list, counts "b" against the sender and forgets the contact; a block
--   counts "k". Otherwise "unmatched" (never mailed, or too long ago) or
--   "duplicate" (already counted for that message).
-- MAIL: when a referred Message-ID is one the sender sent (mid, within
--   mid_days: an older field the day sweep has not reached yet is not), the
--   message is a reply: its author becomes a known contact (lc) and it counts "r", once
--   per author a day, at most replies-per-day a day ("capped" past that).
--   An author the sender mailed as a first contact within 30 days (fc)
--   counts once "y" in the reply rate (rr, prelude.lua).
--   Otherwise an author who is not yet a contact becomes one, at most
--   learned-per-day new contacts a day ("l"); one already known is
--   refreshed ("known").
--
-- TTL and MEMORY: fb expires bounce window + 1 days after its last write
--   and holds at most one field per recipient in ct; lc expires ttl_days
--   after its last write and holds at most max_per_sender fields (trimmed
--   as ct is).
--
-- REPLY: {now, result, ...}: one result per failed recipient ("hard",
--   "block", "unmatched", "duplicate"), or one for the mail ("reply",
--   "learned", "known", "capped"). A "hard" result, and it alone, wrote the
--   recipient's entry, which expires at now + sup_days days.
--
-- SPDX-License-Identifier: BSD-2-Clause

local KEY_REP, KEY_CT, KEY_LC, KEY_FB, KEY_MID = KEYS[K.rep], KEYS[K.ct], KEYS[K.lc], KEYS[K.fb],
                                                KEYS[K.mid]
local KEY_RR, KEY_FC = KEYS[K.rr], KEYS[K.fc]
local kind = ARGV[A.kind]
local ct_ttl, ct_max = tonumber(ARGV[A.ct_ttl]), tonumber(ARGV[A.ct_max])
local sup_days, window = tonumber(ARGV[A.sup_days]), tonumber(ARGV[A.window])
local learn_max, reply_max = tonumber(ARGV[A.learn_max]), tonumber(ARGV[A.reply_max])
local mid_days = tonumber(ARGV[A.mid_days]) or 0
local sender = ARGV[A.sender]

-- One failed recipient i (1-based) of a bounce.
local function bounce_one(i)
    local base = NA + (i - 1) * 3
    local h, class, status = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
    local sent = tonumber(redis.call('HGET', KEY_CT, h))
    local done = tonumber(redis.call('HGET', KEY_FB, h))
    if done and (not sent or done >= sent) then
        return 'duplicate' -- counted already (a hard bounce also forgot the contact)
    end
    if not sent or today - sent > window then
        return 'unmatched'
    end
    redis.call('HSET', KEY_FB, h, sent)
    redis.call('EXPIRE', KEY_FB, (window + 1) * DAY)
    if class == 'hard' then
        rep_add(KEY_REP, 'b', 1)
        redis.call('HSET', KEYS[NK + i], 'at', now, 'status', status, 'sender', sender)
        redis.call('EXPIRE', KEYS[NK + i], sup_days * DAY)
        redis.call('HDEL', KEY_CT, h)
        redis.call('HDEL', KEY_LC, h)
        return 'hard'
    end
    rep_add(KEY_REP, 'k', 1)
    return 'block'
end

-- Remember the author as a learned contact of the sender.
local function learn(h)
    redis.call('HSET', KEY_LC, h, today)
    redis.call('EXPIRE', KEY_LC, ct_ttl * DAY)
    day_hash_trim(KEY_LC, ct_ttl, ct_max)
end

-- A reply from h: when h is a first contact the sender mailed within 30
-- days and not yet counted, it counts "y" under the day it was mailed.
local function first_contact_replied(h)
    local d = tonumber(redis.call('HGET', KEY_FC, h))
    if d then
        redis.call('HDEL', KEY_FC, h) -- a recipient counts once
        if today - d < 30 and redis.call('HEXISTS', KEY_RR, 'f:' .. d) == 1 then
            redis.call('HINCRBY', KEY_RR, 'y:' .. d, 1)
        end
    end
end

-- A message from a person: a reply, or mail that may teach a contact.
local function mail(h)
    local seen = tonumber(redis.call('HGET', KEY_LC, h))
    for i = NA + 1, #ARGV do
        local d = tonumber(redis.call('HGET', KEY_MID, ARGV[i]))
        if d and today - d < mid_days then
            first_contact_replied(h)
            if seen == today then
                return 'known' -- this author's reply already counted today
            end
            if (tonumber(redis.call('HGET', KEY_REP, 'r:' .. today)) or 0) >= reply_max then
                return 'capped'
            end
            rep_add(KEY_REP, 'r', 1)
            learn(h)
            return 'reply'
        end
    end
    local sent = tonumber(redis.call('HGET', KEY_CT, h))
    if (seen and today - seen < ct_ttl) or (sent and today - sent < ct_ttl) then
        if seen ~= today then
            learn(h)
        end
        return 'known'
    end
    if (tonumber(redis.call('HGET', KEY_REP, 'l:' .. today)) or 0) >= learn_max then
        return 'capped'
    end
    rep_add(KEY_REP, 'l', 1)
    learn(h)
    return 'learned'
end

local reply = {}
reply[R.now] = now
-- The incidents' bounce spike (meter_incident.lua) counts bounce reports with
-- a hard failure, per hour: one per report, however many recipients it names
-- (one forged report must not trip it); "b:" fields past 24 hours are
-- deleted as an hour's first is written, so ir stays bounded.
local function spike_add()
    local hour = math.floor(now / 3600)
    if redis.call('HINCRBY', KEYS[K.ir], 'b:' .. hour, 1) == 1 then
        local old = {}
        for _, f in ipairs(redis.call('HKEYS', KEYS[K.ir])) do
            local h = string.sub(f, 1, 2) == 'b:' and tonumber(string.sub(f, 3))
            if h and h <= hour - 24 then
                old[#old + 1] = f
            end
        end
        if #old > 0 then
            redis.call('HDEL', KEYS[K.ir], unpack(old))
        end
        redis.call('EXPIRE', KEYS[K.ir], 8 * DAY)
    end
end

if kind == 'bounce' then
    local hard = false
    for i = 1, #KEYS - NK do
        reply[R.results + i - 1] = bounce_one(i)
        hard = hard or reply[R.results + i - 1] == 'hard'
    end
    if hard then
        spike_add()
    end
elseif kind == 'mail' then
    reply[R.results] = mail(ARGV[A.author])
else
    return redis.error_reply('feedback: unknown kind ' .. tostring(kind))
end
return reply
