--[[ KizunaSR for mpv (stock mpv >= 0.35; no VapourSynth inside mpv).

The realtime chain. On each new source height this script reads the profile's JSON (your own in the user
config folder, e.g. ~/.config/kizunasr/profiles/, else the built-in copies in ~~/script-opts/kizunasr-profiles/),
takes the first range whose max_height fits (no range: the same error as the Python side, on the OSD and in
the log, and no shaders) and builds its ladder: [realtime, fallback..., no shader]. A range without "fallback"
uses the realtime chains of the cheaper built-in profiles for the same height (quality > balanced >
performance). Our shaders (~~/shaders/kizunasr/, on mpv < 0.36 the copies in mpv-0.35/ without //!PARAM) are
appended to glsl-shaders; shaders of yours (mpv.conf, command line) stay where they are.

The governor. While playing, it reads mpv's vo-passes timings (ns per pass of the last frame), frame-drop-count
and vo-delayed-frame-count against the frame budget (1 / min(container-fps x speed, display-fps)). Over budget
or dropping frames, it steps down the ladder, down to no shader (mpv's own scaler). It steps back up when the
tier above is predicted to fit with room to spare (its cost relative to this tier was measured on the way
down), at most once per hold time; a step up that does not hold is retried only after a growing wait. It says
so once on the OSD, logs every change, and kizunasr-status shows the tier. It needs no worker.

The worker. The script makes sure mpv has a JSON IPC socket (input-ipc-server; a per-process path when empty,
a named pipe on Windows) and starts ONE `kizunasr worker --ipc SOCKET --profile P` (async subprocess, argument
list, no shell) for the AI still on pause; it resolves profile=auto for this machine and tells this script
with a "profile" event. Without a worker, auto means performance. If it dies, it is started again at the next
pause.

Messages. The key bindings (registered without keys; the defaults are in input.conf as
`script-binding kizunasr/NAME`) send broadcast script messages:
  script-message kizunasr-profile performance|balanced|quality|auto
  script-message kizunasr-toggle-ai | kizunasr-clear | kizunasr-status
A broadcast, not script-message-to: both this script and the worker act on each of them, the worker is an IPC
client whose name mpv makes up (ipc_N), and the same messages are what your own input.conf lines or other
scripts send. Status for other clients goes out as `script-message kizunasr-event <json>`.

Options (script-opts/kizunasr.conf, followed at runtime): profile=auto, ai_on_pause=yes, governor=yes,
worker_command=kizunasr worker (split on spaces, or a JSON array of strings), debounce_ms=250, osd=yes,
shader_dir=~~/shaders/kizunasr, profiles_dir=~~/script-opts/kizunasr-profiles, user_profiles_dir= (empty: the
platform's user config folder for kizunasr + /profiles).
]]

local MODE = ...  -- "library": a test loads this file for its pure functions (tests/mpv/lua_pure.lua)

local mp = require "mp"
local msg = require "mp.msg"
local options = require "mp.options"
local utils = require "mp.utils"

local unpack = table.unpack or unpack  -- Lua 5.2+ / LuaJIT

-- ==== the pure part: no mpv state, so that tests run it as it is ==============================================

local M = {}

M.LADDER_ORDER = {"quality", "balanced", "performance"}  -- built-in preferences, most expensive first

-- The governor's thresholds: over budget above `high` of it; a step up when the tier above is predicted
-- below `fit` of it, no sooner than `hold_s` after the last change; costs compared across a change once the new
-- tier has run `learn_s`; `min_drops` and `drop_ratio` of the frames due dropped or late count as over budget;
-- a step up that did not hold waits `backoff_s`, doubling up to `backoff_max_s`.
M.GOVERNOR = {high = 0.85, fit = 0.7, hold_s = 6, learn_s = 3, drop_ratio = 0.05, min_drops = 2, backoff_s = 20,
              backoff_max_s = 320}

-- "windows", "darwin", "linux"...: mpv >= 0.36 reports it; before, Lua's directory separator tells Windows.
function M.platform(reported, package_config)
    if reported and reported ~= "" then return reported end
    if package_config:sub(1, 1) == "\\" then return "windows" end
    return "unix"
end

function M.path_dirs(value, windows)
    local dirs = {}
    for dir in (value or ""):gmatch(windows and "[^;]+" or "[^:]+") do dirs[#dirs + 1] = dir end
    return dirs
end

-- The files that may be the program `name`: itself when it names a path, else one per PATH folder (on Windows
-- also with ".exe").
function M.program_candidates(name, path_value, windows)
    local is_path = name:find("/", 1, true) or (windows and (name:find("\\", 1, true) or name:match("^%a:")))
    if is_path then return {name} end
    local out = {}
    for _, dir in ipairs(M.path_dirs(path_value, windows)) do
        out[#out + 1] = utils.join_path(dir, name)
        if windows and not name:match("%.[^\\/]+$") then out[#out + 1] = utils.join_path(dir, name .. ".exe") end
    end
    return out
end

-- The JSON IPC address for this mpv process: a named pipe on Windows, a Unix socket elsewhere.
function M.ipc_path(windows, runtime_dir, pid)
    if windows then return "\\\\.\\pipe\\kizunasr-mpv-" .. pid end
    return utils.join_path(runtime_dir or "/tmp", "kizunasr-mpv-" .. pid .. ".sock")
end

-- The user profiles folder, as the Python side finds it (platformdirs' user config dir + /profiles).
function M.user_profiles_dir(platform, getenv)
    local home = getenv("HOME") or getenv("USERPROFILE") or ""
    local base
    if platform == "windows" then
        base = utils.join_path(utils.join_path(getenv("LOCALAPPDATA") or utils.join_path(home, "AppData/Local"),
                                               "kizunasr"), "kizunasr")
    elseif platform == "darwin" then
        base = utils.join_path(home, "Library/Application Support/kizunasr")
    else
        local xdg = getenv("XDG_CONFIG_HOME")
        base = utils.join_path((xdg and xdg:match("%S")) and xdg or utils.join_path(home, ".config"), "kizunasr")
    end
    return utils.join_path(base, "profiles")
end

function M.read_json(path)
    local f = io.open(path, "r")
    if not f then return nil end
    local text = f:read("*a")
    f:close()
    return utils.parse_json(text)
end

-- A profile's file: a *.json name is the file itself; a name is looked up in `dirs` in order.
function M.find_profile(name, dirs)
    if name:match("%.json$") then return name end
    for _, dir in ipairs(dirs) do
        local path = utils.join_path(dir, name .. ".json")
        local f = io.open(path, "r")
        if f then f:close() return path end
    end
    return nil
end

-- The range for a source of `height` lines: the first whose max_height is null or >= height; else nil and the
-- message the Python side raises (Profile.for_height).
function M.range_for(profile, path, height)
    for _, range in ipairs(profile.ranges or {}) do
        if range.max_height == nil or height <= range.max_height then return range end
    end
    return nil, string.format('%s: no range covers a source of height %d; add a last range with "max_height": null',
                              path, height)
end

-- The shader names of a chain (steps without "shader", such as compiled_model, need the Python side).
function M.shader_names(steps)
    local names = {}
    for _, step in ipairs(steps or {}) do
        if step.shader then names[#names + 1] = step.shader end
    end
    return names
end

function M.same(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do if a[i] ~= b[i] then return false end end
    return true
end

local function contains(chains, chain)
    for _, c in ipairs(chains) do if M.same(c, chain) then return true end end
    return false
end

-- [realtime, fallback..., {}] as lists of shader names, heaviest first; a chain already on it is not repeated.
-- Without "fallback": the realtime chains of the cheaper built-in profiles (`builtin(name)` -> profile table)
-- for the same height. As kizunasr_vs/profiles/ladder.py.
function M.ladder(profile, path, height, builtin)
    local range, err = M.range_for(profile, path, height)
    if not range then return nil, err end
    local rungs = {M.shader_names(range.realtime)}
    if range.fallback ~= nil then
        for _, chain in ipairs(range.fallback) do rungs[#rungs + 1] = M.shader_names(chain) end
    else
        local below = false
        for _, name in ipairs(M.LADDER_ORDER) do
            if below then
                local other = builtin(name)
                local other_range = other and M.range_for(other, name, height)
                if other_range then rungs[#rungs + 1] = M.shader_names(other_range.realtime) end
            end
            below = below or name == profile.preference
        end
    end
    rungs[#rungs + 1] = {}
    local ladder = {}
    for _, rung in ipairs(rungs) do
        if not contains(ladder, rung) then ladder[#ladder + 1] = rung end
    end
    return ladder
end

-- The ladder of profile `name` for `height`: user_dir first, then builtin_dir (which also has the built-ins the
-- default ladder borrows from). Returns ladder, path; or nil, message.
function M.load_ladder(name, height, user_dir, builtin_dir)
    local path = M.find_profile(name, {user_dir, builtin_dir})
    local profile = path and M.read_json(path)
    if not profile then
        return nil, "profile '" .. name .. "' not found in " .. user_dir .. " or " .. builtin_dir
            .. " (kizunasr install-mpv puts the built-in ones there)"
    end
    local function builtin(other)
        return M.read_json(utils.join_path(builtin_dir, other .. ".json"))
    end
    local ladder, err = M.ladder(profile, path, height, builtin)
    if not ladder then return nil, err end
    return ladder, path
end

-- glsl-shaders with our previous entries taken out (each once, from the end: we append) and `new` appended;
-- everything else keeps its place.
function M.merge_shaders(current, ours, new)
    local list = {}
    for i, v in ipairs(current) do list[i] = v end
    for j = #ours, 1, -1 do
        for i = #list, 1, -1 do
            if list[i] == ours[j] then table.remove(list, i) break end
        end
    end
    for _, v in ipairs(new) do list[#list + 1] = v end
    return list
end

local function finite(x)
    return type(x) == "number" and x == x and x > 0 and x < math.huge
end

-- Milliseconds per frame: 1 / min(fps x speed, display fps); nil without a frame rate.
function M.budget_ms(fps, speed, display_fps)
    if not finite(fps) then return nil end
    local rate = fps * (finite(speed) and speed or 1)
    if finite(display_fps) and display_fps < rate then rate = display_fps end
    return 1000 / rate
end

function M.median(values)
    local sorted = {}
    for i, v in ipairs(values) do sorted[i] = v end
    table.sort(sorted)
    local n = #sorted
    if n == 0 then return nil end
    if n % 2 == 1 then return sorted[(n + 1) / 2] end
    return (sorted[n / 2] + sorted[n / 2 + 1]) / 2
end

-- One judgement from the window's samples ({t, ms (nil: no fresh timing), drops (cumulative), pos (time-pos)}):
-- the median frame time, the frames dropped, delayed or fallen behind the clock (playback slows down instead of
-- dropping when there is no audio), and the frames due. nil until the window has 3 samples, or 2 seconds apart.
function M.window_sample(window, budget, fps, speed, timed)
    local first, last = window[1], window[#window]
    if #window < 2 or (#window < 3 and last.t - first.t < 2) then return nil end
    local times = {}
    for _, s in ipairs(window) do if s.ms then times[#times + 1] = s.ms end end
    local span = last.t - first.t
    local behind = 0
    if first.pos and last.pos then behind = math.max(0, (span * speed - (last.pos - first.pos)) * fps) end
    return {now = last.t, ms = #times >= 2 and M.median(times) or nil, budget = budget, timed = timed,
            dropped = last.drops - first.drops + math.floor(behind), due = span * 1000 / budget}
end

function M.new_governor(tiers, now)
    return {tier = 1, tiers = tiers, changed_at = now, cost = {}, ratio = {}, retry_at = {}, retry_budget = {},
            backoff = {}}
end

-- Decide on one sample ({now, ms or nil, budget, dropped, due, timed}); moves g.tier and returns "down" or "up"
-- and why, or nil to stay. g.cost[t]: tier t's last measured frame time. g.ratio[t]: the cost of tier t-1 over
-- that of tier t, learnt across a change once the new tier has run learn_s; with the frame time now it predicts
-- what the tier above would cost, else its last measured cost does.
function M.govern(g, s, cfg)
    cfg = cfg or M.GOVERNOR
    if g.from and s.ms and s.now - g.changed_at >= cfg.learn_s then
        if g.from.ms then
            local up, down = g.from.ms, s.ms
            if g.from.tier > g.tier then up, down = s.ms, g.from.ms end
            g.ratio[math.max(g.from.tier, g.tier)] = math.max(1, up / math.max(down, 0.01))
        end
        g.from = nil
    end
    if s.ms then g.cost[g.tier] = s.ms end
    local dropping = s.dropped >= cfg.min_drops and s.dropped > cfg.drop_ratio * s.due
    local slow = s.ms ~= nil and s.ms > cfg.high * s.budget
    local function move(by, why)
        local from = g.tier
        if by > 0 and g.up_at and s.now - g.up_at < 2 * cfg.hold_s then  -- the step up did not hold
            local wait = g.backoff[from] or cfg.backoff_s
            g.retry_at[from], g.retry_budget[from] = s.now + wait, s.budget
            g.backoff[from] = math.min(2 * wait, cfg.backoff_max_s)
        end
        g.up_at = by < 0 and s.now or nil
        g.from = {tier = from, ms = s.ms}
        g.tier, g.changed_at = from + by, s.now
        return by > 0 and "down" or "up", why
    end
    if (slow or dropping) and g.tier < g.tiers then
        return move(1, slow and "over budget" or "dropping frames")
    end
    if g.tier == 1 or dropping or s.now - g.changed_at < cfg.hold_s then return nil end
    local above = g.tier - 1
    if g.retry_at[above] and s.now < g.retry_at[above] and s.budget <= 1.25 * g.retry_budget[above] then
        return nil
    end
    local predicted = g.cost[above]
    if s.ms and g.ratio[g.tier] then predicted = s.ms * g.ratio[g.tier] end
    if predicted and s.timed then
        if predicted < cfg.fit * s.budget then
            return move(-1, string.format("headroom: the tier above should take %.1f ms", predicted))
        end
    elseif not s.timed and s.dropped == 0 then  -- no timings from this VO: try, and wait longer each time it fails
        return move(-1, "no frames dropped")
    end
    return nil
end

if MODE == "library" then return M end

-- ==== the script ===============================================================================================

local opts = {profile = "auto", ai_on_pause = true, governor = true, worker_command = "kizunasr worker",
              debounce_ms = 250, osd = true, shader_dir = "~~/shaders/kizunasr",
              profiles_dir = "~~/script-opts/kizunasr-profiles", user_profiles_dir = ""}

local PLATFORM = M.platform(mp.get_property("platform"), package.config)
local WINDOWS = PLATFORM == "windows"
if PLATFORM == "unix" and utils.file_info(utils.join_path(os.getenv("HOME") or "", "Library/Application Support")) then
    PLATFORM = "darwin"  -- mpv < 0.36 does not say; macOS has this folder
end

-- The governor samples every TICK_S, keeps WINDOW_S of samples, and after a change waits SETTLE_S and
-- SKIP_FRAMES rendered frames.
local TICK_S, WINDOW_S, SETTLE_S, SKIP_FRAMES = 0.5, 4.0, 1.0, 2

local state = {profile = opts.profile, resolved = nil, height = nil, cleared = false, ai = opts.ai_on_pause,
               running = false, started = false, quitting = false, ours = {}, ladder = nil,
               gov = nil, window = {}, frames = 0, signature = nil, timed = false, told = false, last = nil}

local MISSING = "worker '%s' not found, so no AI still (shaders still run). Fix: set worker_command in "
    .. "~~/script-opts/kizunasr.conf to the full path of kizunasr followed by ' worker' "
    .. "(kizunasr install-mpv writes it), or put kizunasr on PATH"

local function event(data)
    data.source = "lua"
    mp.commandv("script-message", "kizunasr-event", (utils.format_json(data)))  -- format_json also returns an error
end

-- An OSD line; mpv does not log them, so an "osd" event tells other clients (and tests).
local function osd(text, seconds)
    mp.osd_message(text, seconds or 4)
    event({event = "osd", text = text})
end

local function warn(text, seconds)
    msg.warn(text)
    osd("KizunaSR: " .. text, seconds)
end

local function expand(path)
    return mp.command_native({"expand-path", path})
end

local function command_args()
    local cmd = opts.worker_command
    if cmd:match("^%s*%[") then
        return utils.parse_json(cmd) or {}
    end
    local args = {}
    for word in cmd:gmatch("%S+") do args[#args + 1] = word end
    return args
end

local function find_program(name)
    for _, path in ipairs(M.program_candidates(expand(name), os.getenv("PATH"), WINDOWS)) do
        if utils.file_info(path) then return true end
    end
    return false
end

-- ---- the realtime chain ------------------------------------------------------------------------------------

local function old_mpv()  -- mpv < 0.36 has no //!PARAM
    local major, minor = mp.get_property("mpv-version", ""):match("(%d+)%.(%d+)")
    return major ~= nil and tonumber(major) == 0 and tonumber(minor) < 36
end

-- The profile in use: the worker's choice for auto when it told us, else performance (needs nothing).
local function profile_name()
    if state.profile:match("^auto") then return state.resolved or "performance" end
    return state.profile
end

local function user_profiles_dir()
    if opts.user_profiles_dir ~= "" then return expand(opts.user_profiles_dir) end
    return M.user_profiles_dir(PLATFORM, os.getenv)
end

-- A built-in name ("kizuna_cas" or "kizuna_cas.glsl") is a file of shader_dir; anything with a "/" is a path.
local function shader_file(name)
    if name:find("/", 1, true) or (WINDOWS and name:find("\\", 1, true)) then return expand(name) end
    if not name:match("%.glsl$") then name = name .. ".glsl" end
    local dir = expand(opts.shader_dir)
    local compat = utils.join_path(utils.join_path(dir, "mpv-0.35"), name)
    if old_mpv() and utils.file_info(compat) then return compat end
    return utils.join_path(dir, name)
end

local function tier_text()
    if not state.ladder then return "no chain" end
    local names = state.ladder[state.gov and state.gov.tier or 1]
    local chain = #names > 0 and table.concat(names, " + "):gsub("%.glsl", "") or "none (mpv's own scaler)"
    return string.format("tier %d/%d: %s", state.gov and state.gov.tier or 1, #state.ladder, chain)
end

-- The governor's samples start again (new chain, pause, seek, speed or window size).
local function restart_window()
    state.window, state.frames = {}, 0
end

-- Put the ladder's current tier into glsl-shaders, next to the user's own entries.
local function set_chain(governor_note)
    local names = state.cleared and {} or (state.ladder and state.ladder[state.gov.tier] or {})
    local files = {}
    for i, name in ipairs(names) do files[i] = shader_file(name) end
    local current = mp.get_property_native("glsl-shaders") or {}
    local list = M.merge_shaders(current, state.ours, files)
    state.ours = files
    if not M.same(current, list) then mp.set_property_native("glsl-shaders", list) end
    local data = {event = "shaders", shaders = files, height = state.height, profile = profile_name(),
                  tier = state.gov and state.gov.tier or 0, tiers = state.ladder and #state.ladder or 0}
    if governor_note then data.governor = governor_note end
    event(data)
end

local function same_ladder(a, b)
    if not a or not b or #a ~= #b then return false end
    for i = 1, #a do if not M.same(a[i], b[i]) then return false end end
    return true
end

-- The ladder again (height, profile, options or clear changed). A new one starts from its heaviest tier; the
-- same ladder for the same height keeps the governor's tier and what it learnt.
local function refresh()
    if not state.height then return end
    local old, old_gov = state.ladder, state.gov
    state.ladder, state.gov = nil, nil
    restart_window()
    if not state.cleared then
        local name = profile_name()
        local path = name:match("%.json$") and expand(name) or name
        local ladder, err = M.load_ladder(path, state.height, user_profiles_dir(), expand(opts.profiles_dir))
        if ladder then
            local keep = opts.governor and old_gov and old_gov.height == state.height and same_ladder(old, ladder)
            state.ladder = ladder
            state.gov = keep and old_gov or M.new_governor(#ladder, mp.get_time())
            state.gov.height = state.height
        else
            warn(err .. "; no shaders", 6)
        end
    end
    set_chain()
    msg.info("realtime chain for " .. state.height .. " lines, profile " .. profile_name() .. ": " .. tier_text())
end

mp.observe_property("video-params", "native", function(_, params)
    local height = params and params.h or nil
    if height and height ~= state.height then
        state.height = height
        refresh()
    end
end)

-- ---- the governor --------------------------------------------------------------------------------------------

local function governing()
    return opts.governor and state.gov ~= nil and state.gov.tiers > 1 and not state.cleared
end

-- The last rendered frame: its render time in ms (the fresh passes, or in display-sync modes whichever of fresh
-- and redraw, a vsync's re-render, is longer; nil when mpv has no timings) and a signature that changes with
-- every frame rendered.
local function last_frame()
    local passes = mp.get_property_native("vo-passes")
    if type(passes) ~= "table" then return nil, "" end
    local parts = {}
    local function total(list)
        local sum = 0
        for _, pass in ipairs(list or {}) do
            sum = sum + (pass.last or 0)
            parts[#parts + 1] = tostring(pass.last)
        end
        return sum / 1e6
    end
    local ms = total(passes.fresh)
    if mp.get_property("video-sync", ""):match("^display") then ms = math.max(ms, total(passes.redraw)) end
    return ms > 0 and ms or nil, table.concat(parts, ",")
end

local function frame_rate()
    local fps = mp.get_property_number("container-fps")
    if not finite(fps) then fps = mp.get_property_number("estimated-vf-fps") end
    return fps
end

local function tick()
    if not governing() then return end
    local g, now = state.gov, mp.get_time()
    if mp.get_property_bool("pause") or mp.get_property_bool("seeking") or mp.get_property_bool("paused-for-cache") then
        restart_window()
        return
    end
    local ms, signature = last_frame()
    local fresh = ms ~= nil and signature ~= state.signature
    state.signature, state.timed = signature, state.timed or ms ~= nil
    if fresh then state.frames = state.frames + 1 end
    -- the first frames after a change compile and warm up the new shaders: not yet what the tier costs
    if now - g.changed_at < SETTLE_S or (state.timed and state.frames <= SKIP_FRAMES) then
        state.window = {}
        return
    end
    local fps, speed = frame_rate(), mp.get_property_number("speed") or 1
    local budget = M.budget_ms(fps, speed, mp.get_property_number("display-fps"))
    if not budget then return end
    local window = state.window
    window[#window + 1] = {t = mp.get_time(), ms = fresh and ms or nil, pos = mp.get_property_number("time-pos"),
                           drops = (mp.get_property_number("frame-drop-count") or 0)
                               + (mp.get_property_number("vo-delayed-frame-count") or 0)}
    while #window > 1 and window[#window].t - window[1].t > WINDOW_S do table.remove(window, 1) end
    local sample = M.window_sample(window, budget, fps, speed, state.timed)
    if not sample then return end
    state.last = sample
    local from = g.tier
    local action, why = M.govern(g, sample)
    if not action then return end
    restart_window()
    local measured = sample.ms and string.format("%.1f ms", sample.ms) or "unknown"
    local note = {from = from, ms = sample.ms, budget_ms = sample.budget, dropped = sample.dropped, reason = why}
    msg.info(string.format("governor: %s to %s (frame time %s, budget %.1f ms, %d of %d frames dropped "
                           .. "or late: %s)", action == "down" and "stepping down" or "stepping up", tier_text(),
                           measured, sample.budget, sample.dropped, math.floor(sample.due + 0.5), why))
    if action == "down" and not state.told and opts.osd then
        state.told = true
        osd(string.format("KizunaSR: playback did not keep up with %s; now %s (CTRL+i: status)", profile_name(),
                          tier_text()), 5)
    end
    set_chain(note)
end

mp.add_periodic_timer(TICK_S, tick)
mp.register_event("playback-restart", restart_window)
mp.observe_property("osd-dimensions", "native", restart_window)
mp.observe_property("speed", "number", restart_window)

-- ---- the worker ----------------------------------------------------------------------------------------------

local function ipc_path()
    local path = mp.get_property("input-ipc-server", "")
    if path == "" then
        path = M.ipc_path(WINDOWS, os.getenv("XDG_RUNTIME_DIR"), utils.getpid())
        mp.set_property("input-ipc-server", path)
    end
    return path
end

local function start_worker()
    if state.running or state.quitting or opts.worker_command == "" then return end  -- "": no worker (kizunasr play)
    local args = command_args()
    if not args[1] or not find_program(args[1]) then
        warn(string.format(MISSING, args[1] or ""), 8)
        return
    end
    for _, a in ipairs({"--ipc", ipc_path(), "--profile", state.profile,
                        "--debounce-ms", tostring(opts.debounce_ms)}) do
        args[#args + 1] = a
    end
    if not state.ai then args[#args + 1] = "--no-ai" end
    if not opts.osd then args[#args + 1] = "--no-osd" end
    state.running, state.started = true, true
    msg.info("starting worker: " .. utils.to_string(args))
    mp.command_native_async({name = "subprocess", args = args, playback_only = false,
                             capture_stdout = false, capture_stderr = false},
        function(_, result, err)
            state.running = false
            if state.quitting then return end
            if result and result.error_string == "init" then
                warn(string.format(MISSING, args[1]), 8)
                return
            end
            local why = err or (result and result.error_string ~= "" and result.error_string)
                or ("exit status " .. tostring(result and result.status))
            warn("worker stopped (" .. tostring(why) .. "); restarting at the next pause")
        end)
end

mp.register_event("file-loaded", start_worker)
mp.register_event("shutdown", function() state.quitting = true end)

mp.observe_property("pause", "bool", function(_, paused)
    restart_window()
    if paused and state.ai and not state.running then
        if state.started then warn("worker not running; restarting it") end
        start_worker()
    end
end)

-- ---- messages ------------------------------------------------------------------------------------------------

local function status_text()
    local lines = {"KizunaSR profile: " .. profile_name() .. (state.cleared and " (cleared)" or ""),
                   "playing: " .. tier_text()}
    local s = state.last
    if governing() and s then
        lines[#lines + 1] = string.format("governor: %s per frame, budget %.1f ms",
                                          s.ms and string.format("%.1f ms", s.ms) or "no timings", s.budget)
    elseif not opts.governor then
        lines[#lines + 1] = "governor: off"
    end
    return table.concat(lines, "\n")
end

-- Our own view of the messages (the worker reacts to them too): the chain is ours to set; keep the
-- worker's restart arguments current, and speak up when no worker is there to answer.
mp.register_script_message("kizunasr-profile", function(name)
    if name and name ~= "" then state.profile, state.resolved, state.cleared = name, nil, false end
    refresh()
    if not state.running then
        osd("KizunaSR profile: " .. profile_name() .. " (no AI still: worker not running)")
    end
end)
mp.register_script_message("kizunasr-toggle-ai", function()
    state.ai = not state.ai
    if not state.running then osd("KizunaSR AI on pause: " .. (state.ai and "on" or "off")) end
end)
mp.register_script_message("kizunasr-clear", function()
    state.cleared = true
    refresh()
    if not state.running then osd("KizunaSR: shaders cleared") end
end)
mp.register_script_message("kizunasr-status", function()
    local text = status_text()
    event({event = "status", text = text})
    if not state.running then
        osd(text .. "\nworker not running (no AI still)", 6)
    end
end)
-- Worker status for other clients: its "profile" event says what auto chose on this machine; its status text
-- (shown by the worker) gets our tier added.
mp.register_script_message("kizunasr-event", function(text)
    local data = utils.parse_json(text or "")
    if not data or data.source == "lua" then return end
    if data.event == "profile" and data.requested == state.profile and state.profile:match("^auto")
            and data.name ~= state.resolved then
        state.resolved = data.name
        refresh()
    elseif data.event == "status" and data.text then
        osd(data.text .. "\n" .. status_text():gsub("^[^\n]*\n", ""), 6)
    end
end)

-- script-opts changes at runtime: a new profile or AI setting goes out as the message its key sends (so the
-- worker hears it too); folders and the governor take effect at once, the worker's options at its next start.
options.read_options(opts, "kizunasr", function(changed)
    if changed.profile then
        mp.commandv("script-message", "kizunasr-profile", opts.profile)
    elseif changed.shader_dir or changed.profiles_dir or changed.user_profiles_dir or changed.governor then
        refresh()
    end
    if changed.ai_on_pause and opts.ai_on_pause ~= state.ai then
        mp.commandv("script-message", "kizunasr-toggle-ai")
    end
end)
state.profile, state.ai = opts.profile, opts.ai_on_pause

local function send(...)
    local args = {...}
    return function() mp.commandv("script-message", unpack(args)) end
end

-- No default keys here: input.conf has them (`CTRL+1 script-binding kizunasr/profile-performance`, ...).
-- Binding names differ from the message names: mpv also registers a binding's name as a script message of this
-- script, so a binding called "kizunasr-clear" would answer every kizunasr-clear message by sending another.
mp.add_key_binding(nil, "profile-performance", send("kizunasr-profile", "performance"))
mp.add_key_binding(nil, "profile-balanced", send("kizunasr-profile", "balanced"))
mp.add_key_binding(nil, "profile-quality", send("kizunasr-profile", "quality"))
mp.add_key_binding(nil, "profile-auto", send("kizunasr-profile", "auto"))
mp.add_key_binding(nil, "toggle-ai", send("kizunasr-toggle-ai"))
mp.add_key_binding(nil, "clear-shaders", send("kizunasr-clear"))
mp.add_key_binding(nil, "show-status", send("kizunasr-status"))
