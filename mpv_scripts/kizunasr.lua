--[[ KizunaSR for mpv (stock mpv >= 0.35; no VapourSynth inside mpv).

Design: this script sets the realtime shader chain itself, so playback works with no Python at all:
on each new source height (video-params) it reads the profile's JSON (~~/script-opts/kizunasr-profiles/,
or ~/.config/kizunasr/profiles/ for your own; both written or read as by `kizunasr install-mpv`), takes
the "realtime" chain of the first range whose max_height fits (like mpv's conditional profiles) and sets
glsl-shaders to the installed files in ~~/shaders/kizunasr/ (on mpv < 0.36, the copies in mpv-0.35/,
which have no //!PARAM blocks: 0.35 logs "Unrecognized command 'PARAM ...'" for them).

It also makes sure mpv has a JSON IPC socket (sets input-ipc-server to a per-process path when it is
empty) and starts ONE worker process (`kizunasr worker --ipc SOCKET --profile P`, an async subprocess:
no shell, argument list only), which adds the AI still on pause over the IPC socket (grabs the frame,
runs the profile's pause chain, shows it with overlay-add; see kizunasr_vs/mpv/worker.py) and resolves
profile=auto to a profile for this machine (it tells this script with a "profile" event). Without a
worker, auto means performance (shaders only, no GPU needed).

Key bindings send broadcast script messages, which the worker (an IPC client) receives as well as this
script:
  script-message kizunasr-profile performance|balanced|quality|auto
  script-message kizunasr-toggle-ai | kizunasr-clear | kizunasr-status
If the worker dies or cannot be found, playback and shaders go on; the OSD says so (and how to fix a
missing worker) and it is started again at the next pause.

Options (script-opts/kizunasr.conf): profile=auto, ai_on_pause=yes, worker_command=kizunasr worker
(split on spaces, or a JSON array of strings), debounce_ms=250, osd=yes,
shader_dir=~~/shaders/kizunasr, profiles_dir=~~/script-opts/kizunasr-profiles.
]]

local mp = require "mp"
local msg = require "mp.msg"
local options = require "mp.options"
local utils = require "mp.utils"

local opts = {profile = "auto", ai_on_pause = true, worker_command = "kizunasr worker", debounce_ms = 250, osd = true,
              shader_dir = "~~/shaders/kizunasr", profiles_dir = "~~/script-opts/kizunasr-profiles"}
options.read_options(opts, "kizunasr")

local state = {profile = opts.profile, resolved = nil, height = nil, cleared = false, ai = opts.ai_on_pause,
               running = false, started = false, quitting = false}

local MISSING = "worker '%s' not found, so no AI still (shaders still run). Fix: set worker_command in "
    .. "~~/script-opts/kizunasr.conf to the full path of kizunasr followed by ' worker' "
    .. "(kizunasr install-mpv writes it), or put kizunasr on PATH"

local function warn(text, seconds)
    msg.warn(text)
    mp.osd_message("KizunaSR: " .. text, seconds or 4)
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
    if name:find("/") then return utils.file_info(expand(name)) ~= nil end
    for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
        if utils.file_info(utils.join_path(dir, name)) then return true end
    end
    return false
end

-- ---- the realtime chain ------------------------------------------------------------------------

local function old_mpv()  -- mpv < 0.36 has no //!PARAM
    local major, minor = mp.get_property("mpv-version", ""):match("(%d+)%.(%d+)")
    return major ~= nil and tonumber(major) == 0 and tonumber(minor) < 36
end

local function read_json(path)
    local f = io.open(path, "r")
    if not f then return nil end
    local text = f:read("*a")
    f:close()
    return utils.parse_json(text)
end

-- The profile in use: the worker's choice for auto when it told us, else performance (needs nothing).
local function profile_name()
    if state.profile:match("^auto") then return state.resolved or "performance" end
    return state.profile
end

local function profile_file(name)
    if name:match("%.json$") then return expand(name) end
    local config = os.getenv("XDG_CONFIG_HOME") or utils.join_path(os.getenv("HOME") or "", ".config")
    for _, dir in ipairs({utils.join_path(config, "kizunasr/profiles"), expand(opts.profiles_dir)}) do
        local path = utils.join_path(dir, name .. ".json")
        if utils.file_info(path) then return path end
    end
    return nil
end

-- A built-in name ("kizuna_cas" or "kizuna_cas.glsl") is a file of shader_dir; anything with a "/" is a path.
local function shader_file(name)
    if name:find("/") then return expand(name) end
    if not name:match("%.glsl$") then name = name .. ".glsl" end
    local dir = expand(opts.shader_dir)
    local compat = utils.join_path(utils.join_path(dir, "mpv-0.35"), name)
    if old_mpv() and utils.file_info(compat) then return compat end
    return utils.join_path(dir, name)
end

local function realtime_chain(name, height)
    local file = profile_file(name)
    local profile = file and read_json(file)
    if not profile then
        warn("profile '" .. name .. "' not found in " .. opts.profiles_dir .. " (kizunasr install-mpv puts the "
             .. "built-in ones there); no shaders", 6)
        return {}
    end
    for _, range in ipairs(profile.ranges or {}) do
        if range.max_height == nil or height <= range.max_height then
            local list = {}
            for _, step in ipairs(range.realtime or {}) do
                if step.shader then list[#list + 1] = shader_file(step.shader) end
            end
            return list
        end
    end
    return {}
end

local function same(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do if a[i] ~= b[i] then return false end end
    return true
end

local function apply_shaders()
    if not state.height then return end
    local name = profile_name()
    local list = state.cleared and {} or realtime_chain(name, state.height)
    if not same(mp.get_property_native("glsl-shaders") or {}, list) then
        mp.set_property_native("glsl-shaders", list)
    end
    msg.info("realtime chain for " .. state.height .. " lines, profile " .. name .. ": " .. #list .. " shaders")
    local event = utils.format_json({event = "shaders", source = "lua", shaders = list, height = state.height,
                                     profile = name})  -- one value: format_json also returns an error (nil)
    mp.commandv("script-message", "kizunasr-event", event)
end

mp.observe_property("video-params", "native", function(_, params)
    local height = params and params.h or nil
    if height and height ~= state.height then
        state.height = height
        apply_shaders()
    end
end)

-- ---- the worker --------------------------------------------------------------------------------

local function ipc_path()
    local path = mp.get_property("input-ipc-server", "")
    if path == "" then
        local dir = os.getenv("XDG_RUNTIME_DIR") or "/tmp"
        path = utils.join_path(dir, "kizunasr-mpv-" .. utils.getpid() .. ".sock")
        mp.set_property("input-ipc-server", path)
    end
    return path
end

local function start_worker()
    if state.running or state.quitting then return end
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
    if paused and state.ai and not state.running then
        if state.started then warn("worker not running; restarting it") end
        start_worker()
    end
end)

-- Our own view of the messages (the worker reacts to them too): the chain is ours to set; keep the
-- worker's restart arguments current, and speak up when no worker is there to answer.
mp.register_script_message("kizunasr-profile", function(name)
    if name and name ~= "" then state.profile, state.resolved, state.cleared = name, nil, false end
    apply_shaders()
    if not state.running then
        mp.osd_message("KizunaSR profile: " .. profile_name() .. " (no AI still: worker not running)")
    end
end)
mp.register_script_message("kizunasr-toggle-ai", function()
    state.ai = not state.ai
    if not state.running then mp.osd_message("KizunaSR AI on pause: " .. (state.ai and "on" or "off")) end
end)
mp.register_script_message("kizunasr-clear", function()
    state.cleared = true
    apply_shaders()
    if not state.running then mp.osd_message("KizunaSR: shaders cleared") end
end)
mp.register_script_message("kizunasr-status", function()
    if not state.running then
        mp.osd_message("KizunaSR: profile " .. profile_name() .. ", " .. #(mp.get_property_native("glsl-shaders") or {})
                       .. " shaders; worker not running (no AI still)", 4)
    end
end)
-- Worker status for other clients; the worker's "profile" event says what auto chose on this machine.
mp.register_script_message("kizunasr-event", function(text)
    local data = utils.parse_json(text or "")
    if data and data.event == "profile" and data.requested == state.profile and state.profile:match("^auto")
            and data.name ~= state.resolved then
        state.resolved = data.name
        apply_shaders()
    end
end)

local unpack = table.unpack or unpack  -- Lua 5.2+ / LuaJIT 5.1

local function send(...)
    local args = {...}
    return function() mp.commandv("script-message", unpack(args)) end
end

-- Binding names must differ from the message names: mpv also registers a binding's name as a script
-- message of this script, so a binding called "kizunasr-clear" would answer every kizunasr-clear message
-- by sending another one, for ever. Users rebind them as `script-binding kizunasr/<name>`.
mp.add_key_binding("ctrl+1", "profile-performance", send("kizunasr-profile", "performance"))
mp.add_key_binding("ctrl+2", "profile-balanced", send("kizunasr-profile", "balanced"))
mp.add_key_binding("ctrl+3", "profile-quality", send("kizunasr-profile", "quality"))
mp.add_key_binding("ctrl+4", "profile-auto", send("kizunasr-profile", "auto"))
mp.add_key_binding("ctrl+a", "toggle-ai", send("kizunasr-toggle-ai"))
mp.add_key_binding("ctrl+0", "clear-shaders", send("kizunasr-clear"))
mp.add_key_binding("ctrl+i", "show-status", send("kizunasr-status"))
