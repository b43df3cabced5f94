-- Runs the pure functions of mpv_scripts/kizunasr.lua inside mpv (its own Lua, no stand-ins) for
-- tests/mpv/test_lua_pure.py: reads the calls from the JSON file named by script-opts kztest-job, writes one
-- result per call ({"value": ...} or {"error": "..."}) as JSON to kztest-out, and quits mpv.
local utils = require "mp.utils"

local function read(path)
    local f = assert(io.open(path, "r"))
    local text = f:read("*a")
    f:close()
    return text
end

-- A governor in a small world: the tier t playing costs costs[t] x load ms per frame; a frame over budget is
-- dropped in proportion; each point is one window of `dt` seconds. One decision per point, with the tier after.
local function governor_run(M, call)
    local g = M.new_governor(#call.costs, 0)
    local steps = {}
    for _, p in ipairs(call.timeline) do
        local ms = call.costs[g.tier] * p.load
        local due = call.dt * 1000 / p.budget
        local dropped = ms > p.budget and math.floor(due * (1 - p.budget / ms)) or 0
        local sample = {now = p.now, budget = p.budget, dropped = dropped, due = due, timed = call.timed}
        if call.timed then sample.ms = ms end
        local action, why = M.govern(g, sample)
        steps[#steps + 1] = {tier = g.tier, action = action or "stay", why = why or ""}
    end
    return steps
end

local function run()
    local job = utils.parse_json(read(mp.get_opt("kztest-job")))
    local M = assert(loadfile(job.script))("library")
    local results = {}
    for i, call in ipairs(job.calls) do
        local ok, value, err = pcall(function()
            if call.fn == "governor_run" then return governor_run(M, call) end
            local args = call.args
            if call.env then args[#args + 1] = function(name) return call.env[name] end end
            return M[call.fn]((table.unpack or unpack)(args))
        end)
        if not ok then
            results[i] = {error = "lua error: " .. tostring(value)}
        elseif value == nil then
            results[i] = {error = err or "nil"}
        else
            results[i] = {value = value}
        end
    end
    local out = assert(io.open(mp.get_opt("kztest-out"), "w"))
    out:write((utils.format_json(results)))
    out:close()
end

local ok, err = pcall(run)
if not ok then mp.msg.error("lua_pure: " .. tostring(err)) end
mp.command("quit")
