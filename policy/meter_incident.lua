-- meter_incident.lua - a mailbox gone bad (Redis script piece, after
-- meter_credits.lua, before meter.lua): the sender's incident, the rates its
-- signals watch, and the digest's record of limit hits.
--
-- INCIDENT KEYS[K.inc]: the hash of policy/incident.h (at, signal, figures,
--   by, note, until, ids, held), and the index KEYS[K.incidx] (sorted set
--   sender -> at). A sender in incident sends nothing that counts: its
--   requests count nothing, and one that is a held or refused message
--   (A.inc_count) adds its queue id to ids (at most IDS_MAX) and 1 to held.
--
-- RATES KEYS[K.ir] (hash, TTL 8 days, at most about 60 fields):
--   m:<minute>  messages that went, per minute (the current minute and the 9
--               before it: "10 minutes")
--   d:<day>     messages that went, per UTC day (the 7 days before today: the
--               usual rate)
--   r:<minute>  refusals (a probe or commit this script refused), per minute
--   f:<10 min>  new recipient domains, per 10 minutes (6 of them: "an hour")
--   b:<hour>    bounce reports with a hard failure (feedback.lua: one per
--               report), per hour (24 of them; older ones deleted there)
--   since       the UTC day the rates were first written
--   nn          store time of the last login from a new network
-- KEYS[K.dom]: recipient domain -> UTC day last mailed (new: absent or 30
--   days old; at most DOM_MAX fields). KEYS[K.net]: client network of a SASL
--   login -> UTC day last used (new: absent or A.inc_nn_days old; at most
--   NET_MAX fields). Fan-out and new networks need a week of history
--   (since): before that every domain and network would be new.
--
-- SIGNALS, in order, a request at a time (thresholds 0: the signal is off):
--   burst        a message that goes makes the messages of the last 10 minutes
--                more than the floor and more than multiple times the usual
--                (the 7 days before today, per 10 minutes);
--   fanout       a message makes the new recipient domains of the last hour
--                more than the threshold;
--   retry_storm  a refusal makes the refusals of the last 10 minutes more than
--                the threshold (with those a server refused without asking,
--                A.inc_local, carried by its next request for the sender);
--   bounce_spike a message goes while the hard bounces of the last 24 hours
--                are more than the threshold.
--   A SASL login from a new network lowers the thresholds (x A.inc_nn_pct%,
--   rounded up) for 24 hours; it never opens an incident alone.
--   The request that trips a signal opens the incident and is itself held or
--   refused (it counts nothing). A.inc_mode (store.h's pm_incident_mode): 0
--   none, 1 enforce, 2 detect, 3 dry (detected, nothing opened). Only a
--   message that goes or a counted refusal is watched, and only while a
--   signal is on: a probe that fits writes nothing here.
--
-- DIGEST A.hits_prefix<day> (hash "sender|limit name" -> refusals that day,
--   at most HITS_MAX fields, TTL 3 days): a refusal whose A.inc_refusal is 1,
--   and the A.inc_local refusals of limit A.inc_local_c.
--
-- SPDX-License-Identifier: BSD-2-Clause

local IDS_MAX, DOM_MAX, NET_MAX, HITS_MAX = 10, 5000, 1000, 10000
local inc_mode = tonumber(ARGV[A.inc_mode]) or 0
local inc_sender = ARGV[A.sender] -- (the top index's member too)
local minute, tenmin, hour = math.floor(now / 60), math.floor(now / 600), math.floor(now / 3600)

-- The sender's incident: a table of its fields, or nil.
local function incident_read()
    local f = redis.call('HGETALL', KEYS[K.inc])
    if #f == 0 then
        return nil
    end
    local t = {}
    for i = 1, #f, 2 do
        t[f[i]] = f[i + 1]
    end
    local u = tonumber(t['until']) or 0
    if u > 0 and now >= u then -- ended by itself (the key's TTL, on the store's clock)
        redis.call('DEL', KEYS[K.inc])
        redis.call('ZREM', KEYS[K.incidx], inc_sender)
        return nil
    end
    return t
end

-- A request of a sender in incident that is a held or refused message: note it.
local function incident_note(inc, qid)
    local ids = inc.ids or ''
    local n = 0
    for _ in string.gmatch(ids, '%S+') do
        n = n + 1
    end
    if qid ~= '' and n < IDS_MAX and not string.find(' ' .. ids .. ' ', ' ' .. qid .. ' ', 1, true) then
        ids = ids == '' and qid or ids .. ' ' .. qid
        redis.call('HSET', KEYS[K.inc], 'ids', ids)
        inc.ids = ids
    end
    inc.held = redis.call('HINCRBY', KEYS[K.inc], 'held', 1)
end

-- Record n refusals for the digest (the limit that refused: counter index ci).
local function hits_record(ci, n)
    if ARGV[A.hits_prefix] == '' then
        return
    end
    local names, i = {}, 0
    for w in string.gmatch(ARGV[A.limit_names], '%S+') do
        names[i] = w
        i = i + 1
    end
    local key, field = ARGV[A.hits_prefix] .. today, inc_sender .. '|' .. (names[ci] or '?')
    if redis.call('HEXISTS', key, field) == 0 and redis.call('HLEN', key) >= HITS_MAX then
        return
    end
    if redis.call('HINCRBY', key, field, n) == n then
        redis.call('EXPIRE', key, 3 * DAY)
    end
end

-- True when a signal is on (a threshold above 0).
local function incident_watched()
    return (tonumber(ARGV[A.inc_burst]) or 0) > 0 or (tonumber(ARGV[A.inc_fanout]) or 0) > 0 or
               (tonumber(ARGV[A.inc_retry]) or 0) > 0 or (tonumber(ARGV[A.inc_bounce]) or 0) > 0
end

-- The signals' functions, made by incident_signals only for a request whose
-- signals are watched (meter.lua, just before incident_detect): a probe that
-- fits, or any request of a sender in incident, makes none of these closures.
local rates_read, rates_add, rates_write, new_network, new_domains, lowered
local incident_detect, incident_open
local function incident_signals()
    -- The rates hash as a table, its stale fields deleted, and per kind the sum
    -- of its fields (of d: the days before today), read in the same pass.
    function rates_read()
        local f = redis.call('HGETALL', KEYS[K.ir])
        local t, old, sum = {}, {}, {m = 0, r = 0, d = 0, f = 0, b = 0}
        for i = 1, #f, 2 do
            local kind, n = string.match(f[i], '^(%a):(%d+)$')
            n = tonumber(n)
            local stale = (kind == 'm' or kind == 'r') and minute - n >= 10 or
                              kind == 'd' and today - n >= 8 or kind == 'f' and tenmin - n >= 6 or
                              kind == 'b' and hour - n >= 24
            if stale then
                old[#old + 1] = f[i]
            elseif kind then
                local v = tonumber(f[i + 1]) or 0
                t[f[i]] = v
                if kind ~= 'd' or n ~= today then
                    sum[kind] = (sum[kind] or 0) + v
                end
            else
                t[f[i]] = f[i + 1] -- since, nn, nnet
            end
        end
        if #old > 0 then
            redis.call('HDEL', KEYS[K.ir], unpack(old))
        end
        return t, sum
    end

    -- Add n to rates field "<kind>:<i>" (its value as read: the script runs
    -- alone, nothing else wrote it since) and to the kind's sum (a d field of
    -- today stays out of it); the field and its new value go on set, for
    -- rates_write.
    function rates_add(t, sum, set, kind, i, n)
        local f = kind .. ':' .. i
        t[f] = (t[f] or 0) + n
        set[#set + 1] = f
        set[#set + 1] = t[f]
        if kind ~= 'd' or i ~= today then
            sum[kind] = sum[kind] + n
        end
    end

    -- Write the rates fields of set in one HSET, and renew the hash's TTL (8 days).
    function rates_write(set)
        redis.call('HSET', KEYS[K.ir], unpack(set))
        redis.call('EXPIRE', KEYS[K.ir], 8 * DAY)
    end

    -- Note the sender's day of history and, for a login from a new network, the
    -- time; returns the factor (percent) the thresholds are lowered by, and the
    -- network text for the figures.
    function new_network(t, history)
        local days = tonumber(ARGV[A.inc_nn_days]) or 0
        local pct, net = tonumber(ARGV[A.inc_nn_pct]) or 100, ARGV[A.inc_net]
        if days <= 0 then
            return 100, nil
        end
        if net ~= '' then
            local d = tonumber(redis.call('HGET', KEYS[K.net], net))
            if (not d or today - d >= days) and history then
                redis.call('HSET', KEYS[K.ir], 'nn', now, 'nnet', net)
                t.nn, t.nnet = now, net
            end
            if d ~= today then
                redis.call('HSET', KEYS[K.net], net, today)
                day_hash_trim(KEYS[K.net], days, NET_MAX)
            end
            redis.call('EXPIRE', KEYS[K.net], days * DAY)
        end
        if t.nn and now - t.nn < DAY then
            return pct, t.nnet
        end
        return 100, nil
    end

    -- The new recipient domains of this message (recorded as mailed today;
    -- the hash kept after a write, a message to today's domains writes none).
    function new_domains()
        local n, wrote = 0, false
        for d in string.gmatch(ARGV[A.inc_domains], '%S+') do
            local day = tonumber(redis.call('HGET', KEYS[K.dom], d))
            if not day or today - day >= 30 then
                n = n + 1
            end
            if day ~= today then
                redis.call('HSET', KEYS[K.dom], d, today)
                wrote = true
            end
        end
        if wrote then
            day_hash_trim(KEYS[K.dom], 30, DOM_MAX)
        end
        redis.call('EXPIRE', KEYS[K.dom], 30 * DAY)
        return n
    end

    -- A threshold lowered by pct percent (rounded up); 0 stays off.
    function lowered(v, pct)
        v = tonumber(v) or 0
        if v <= 0 then
            return 0
        end
        return math.ceil(v * pct / 100)
    end


    -- Watch the signals for one request: nref (the refusals it counts: its own,
    -- the first of its message, and those the server decided alone), goes (a
    -- message that goes: mode commit or force, and counted). Returns the signal
    -- and its figures when one trips, else nil.
    function incident_detect(nref, goes)
        local t, sum = rates_read()
        t.since, t.nn = tonumber(t.since), tonumber(t.nn)
        if not t.since then
            redis.call('HSET', KEYS[K.ir], 'since', today)
            redis.call('EXPIRE', KEYS[K.ir], 8 * DAY)
            t.since = today
        end
        local history = today - t.since >= 7
        local pct, net = new_network(t, history)
        local tail = ''
        local sig = ''
        if net then
            tail = '; new network ' .. net .. ', thresholds x' .. string.format('%.2g', pct / 100)
            sig = '+new_network'
        end
        if nref > 0 then
            local set = {}
            rates_add(t, sum, set, 'r', minute, nref)
            rates_write(set)
            local lim = lowered(ARGV[A.inc_retry], pct)
            local n = sum.r
            if lim > 0 and n > lim then
                return 'retry_storm' .. sig,
                       n .. ' refusals in 10 minutes; threshold ' .. lim .. tail
            end
        end
        if not goes then
            return nil
        end
        local set = {}
        rates_add(t, sum, set, 'm', minute, add.m)
        rates_add(t, sum, set, 'd', today, add.m)
        rates_write(set)
        local floor = lowered(ARGV[A.inc_burst], pct)
        local mult = tonumber(ARGV[A.inc_multiple]) or 0
        local n = sum.m
        local usual = sum.d / 7 / 144
        if floor > 0 and n > floor and n > mult * usual then
            return 'burst' .. sig,
                   string.format('%d messages in 10 minutes; usual %.1f per 10 minutes; ' ..
                                     'floor %d, x%s', n, usual, floor, ARGV[A.inc_multiple]) ..
                       tail
        end
        local fan = lowered(ARGV[A.inc_fanout], pct)
        if fan > 0 and ARGV[A.inc_domains] ~= '' then
            local nd = new_domains()
            if history and nd > 0 then
                local set = {}
                rates_add(t, sum, set, 'f', tenmin, nd)
                rates_write(set)
                local s = sum.f
                if s > fan then
                    return 'fanout' .. sig,
                           s .. ' new recipient domains in an hour; threshold ' .. fan .. tail
                end
            end
        end
        local bl = lowered(ARGV[A.inc_bounce], pct)
        local b = sum.b
        if bl > 0 and b > bl then
            return 'bounce_spike' .. sig, b .. ' hard bounces in 24 hours; threshold ' .. bl .. tail
        end
        return nil
    end

    -- Open the incident: write its hash and index entry; the tripping request is
    -- its first held or refused message when it counts as one.
    function incident_open(signal, figures, counts)
        local hours = tonumber(ARGV[A.inc_max_hours]) or 0
        local inc = {at = now, signal = signal, figures = figures, by = 'postmeter', note = '',
                     ['until'] = hours > 0 and now + hours * 3600 or 0, ids = '', held = 0}
        if counts then
            inc.ids, inc.held = ARGV[A.inc_qid], 1
        end
        redis.call('HSET', KEYS[K.inc], 'at', inc.at, 'signal', signal, 'figures', figures, 'by',
                   inc.by, 'note', '', 'until', inc['until'], 'ids', inc.ids, 'held', inc.held)
        if inc['until'] > 0 then
            -- the key ends at until: EXPIRE from now, the same moment as EXPIREAT
            -- until in production, and right under the test clock's offset too
            redis.call('EXPIRE', KEYS[K.inc], inc['until'] - now)
        end
        redis.call('ZADD', KEYS[K.incidx], now, inc_sender)
        return inc
    end
end
