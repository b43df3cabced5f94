--[[ KizunaSR for mpv (stock mpv >= 0.35; no VapourSynth inside mpv).

Design: this script stays thin. It makes sure mpv has a JSON IPC socket (sets
input-ipc-server to a per-process path when it is empty), starts ONE worker
process (`kizunasr worker --ipc SOCKET --profile P`, an async subprocess: no
shell, argument list only) and binds keys. The worker does the work over the
IPC socket: it sets glsl-shaders to the profile's realtime chain for the
source height, and on pause grabs the frame, runs the AI/shader pause chain and
shows it with overlay-add (see kizunasr_vs/mpv/worker.py).

Key bindings send broadcast script messages, which the worker (an IPC client)
receives as well as this script:
  script-message kizunasr-profile performance|balanced|quality|auto
  script-message kizunasr-toggle-ai | kizunasr-clear | kizunasr-status
If the worker dies, playback goes on; an OSD warning is shown and the worker is
restarted at the next pause.

Options (script-opts/kizunasr.conf): profile=auto, ai_on_pause=yes,
worker_command=kizunasr worker (split on spaces, or a JSON array of strings),
debounce_ms=250.
]]

local mp = require "mp"
local msg = require "mp.msg"
local options = require "mp.options"
local utils = require "mp.utils"

local opts = {profile = "auto", ai_on_pause = true, worker_command = "kizunasr worker", debounce_ms = 250, osd = true}
options.read_options(opts, "kizunasr")

local state = {profile = opts.profile, ai = opts.ai_on_pause, running = false, started = false, quitting = false}

local function command_args()
    local cmd = opts.worker_command
    if cmd:match("^%s*%[") then
        return utils.parse_json(cmd) or {}
    end
    local args = {}
    for word in cmd:gmatch("%S+") do args[#args + 1] = word end
    return args
end

local function ipc_path()
    local path = mp.get_property("input-ipc-server", "")
    if path == "" then
        local dir = os.getenv("XDG_RUNTIME_DIR") or "/tmp"
        path = utils.join_path(dir, "kizunasr-mpv-" .. utils.getpid() .. ".sock")
        mp.set_property("input-ipc-server", path)
    end
    return path
end

local function warn(text)
    msg.warn(text)
    mp.osd_message("KizunaSR: " .. text, 4)
end

local function start_worker()
    if state.running or state.quitting then return end
    local args = command_args()
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
            local why = err or (result and result.error_string ~= "" and result.error_string)
                or ("exit status " .. tostring(result and result.status))
            warn("worker stopped (" .. tostring(why) .. "); restarting at the next pause")
        end)
end

mp.register_event("file-loaded", start_worker)
mp.register_event("shutdown", function() state.quitting = true end)

mp.observe_property("pause", "bool", function(_, paused)
    if paused and state.started and not state.running then
        warn("worker not running; restarting it")
        start_worker()
    end
end)

-- Our own view of the messages (the worker reacts to them too): keep the restart arguments current,
-- and speak up when no worker is there to answer.
mp.register_script_message("kizunasr-profile", function(name)
    if name and name ~= "" then state.profile = name end
    if not state.running then mp.osd_message("KizunaSR profile: " .. state.profile .. " (worker not running)") end
end)
mp.register_script_message("kizunasr-toggle-ai", function()
    state.ai = not state.ai
    if not state.running then mp.osd_message("KizunaSR AI on pause: " .. (state.ai and "on" or "off")) end
end)
mp.register_script_message("kizunasr-clear", function()
    if not state.running then
        mp.set_property_native("glsl-shaders", {})
        mp.osd_message("KizunaSR: shaders cleared")
    end
end)
mp.register_script_message("kizunasr-status", function()
    if not state.running then
        mp.osd_message("KizunaSR: worker not running (profile " .. state.profile .. ")", 4)
    end
end)
mp.register_script_message("kizunasr-event", function() end)  -- worker status for other clients

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
