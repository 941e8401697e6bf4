-- meter_base.lua - the meter script's request (Redis script piece; after
-- prelude.lua and the generated contract, policy/scripts.contract, whose K,
-- A, S, R and C tables name every key, argument, reply field and counter).
--
-- ARGUMENTS: the contract's args (A), then one block of NS values per scope
--   (S: the sender's, then the domain's when KEYS holds the domain's keys),
--   then the keyed hashes of the external recipients to look up as contacts.
--
-- MODES: 0 probe (count nothing: RCPT TO, status), 1 commit (count unless a
--   limit of a scope that is not soft, or a reputation brake, is exceeded),
--   2 force (always count).
--
-- PLAN OVERRIDE: when KEYS[K.plan] names a plan of A.plan_table
--   ("name|mh|md|rh|rd|nd|ih|id|curve|soft;..."), its limits, curve and
--   softness replace the sender scope's; the reply says which plan (table
--   index, -1 none). An override naming a plan the table lacks (a postmeter
--   not yet reloaded after "postmeterctl plan set") is not applied: the
--   reply's plan is -2, and KEYS[K.planerr] holds the name for a day, for
--   postmeterctl status.
--
-- IDEMPOTENCE: a commit or force that counted records its reply in
--   KEYS[K.tx] (msgpack, TTL 1200 s; a key ending in ":tx:" names no
--   transaction: a probe's); the same request again (postmeter
--   asking once more after a reply lost to a timeout, or a client sending the
--   same message again after the 4xx that timeout caused) gets that reply
--   back and counts nothing. A request that did not count records nothing,
--   so a retry is decided afresh.
--
-- SPDX-License-Identifier: BSD-2-Clause

local WINDOW = {h = 3600, d = 86400}
local COUNTERS = {'mh', 'md', 'rh', 'rd', 'nd', 'ih', 'id'} -- in C's order

local mode = tonumber(ARGV[A.mode])
local has_tx = string.sub(KEYS[K.tx], -4) ~= ':tx:' -- "...:tx:" names no transaction
if mode ~= 0 and has_tx then
    local done = redis.call('GET', KEYS[K.tx])
    if done then
        local r = cmsgpack.unpack(done)
        for i = #r + 1, NR do -- recorded by a version whose reply was shorter
            r[i] = 0
        end
        return r
    end
end

local nscopes = 1
if #KEYS >= K.dwu then
    nscopes = 2
end
local first_hash = NA + nscopes * NS + 1 -- the recipient hashes follow the scope blocks
local bucket = {h = tonumber(ARGV[A.hour_bucket]), d = tonumber(ARGV[A.day_bucket])}
local rep = {level = 0} -- the sender's reputation (meter_reputation.lua)
local rr = {first = 0, replied = 0, brake = 0} -- its reply rate (meter_reputation.lua)

-- Scope si's values: limits by counter (0 = none), warm-up rules, softness
-- (in line: no closure per call).
local sv = {}
for si = 1, nscopes do
    local b = NA + (si - 1) * NS + 1 -- ARGV[b + S[name]] is the value name
    local v = {lim = {}, dormant = tonumber(ARGV[b + S.dormant]),
               max_ppm = tonumber(ARGV[b + S.max_ppm]), curve = ARGV[b + S.curve],
               soft = ARGV[b + S.soft] == '1'}
    for _, c in ipairs(COUNTERS) do
        v.lim[c] = tonumber(ARGV[b + S[c]])
    end
    sv[si] = v
end

-- The keys of scope si: windows, warm-up.
local function scope_keys(si)
    if si == 1 then
        return KEYS[K.w], KEYS[K.wu]
    end
    return KEYS[K.dw], KEYS[K.dwu]
end

-- The sender's plan override: its table index and its values, or -1 (none),
-- or -2 (a name the table lacks, recorded for postmeterctl).
local function override()
    local name = redis.call('GET', KEYS[K.plan])
    if not name then
        return -1, nil
    end
    local idx = 0
    for entry in string.gmatch(ARGV[A.plan_table], '[^;]+') do
        local f = {}
        for v in string.gmatch(entry .. '|', '([^|]*)|') do
            table.insert(f, v)
        end
        if f[1] == name then
            return idx, f
        end
        idx = idx + 1
    end
    if redis.call('GET', KEYS[K.planerr]) ~= name then
        redis.call('SET', KEYS[K.planerr], name, 'EX', DAY)
    end
    return -2, nil
end

local plan_idx, plan_vals = override()
if plan_vals then
    for i, c in ipairs(COUNTERS) do
        sv[1].lim[c] = tonumber(plan_vals[i + 1]) or 0
    end
    sv[1].curve = plan_vals[#COUNTERS + 2] or ''
    if plan_vals[#COUNTERS + 3] then
        sv[1].soft = plan_vals[#COUNTERS + 3] == '1'
    end
end

