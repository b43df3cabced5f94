"""mpv integration: the worker behind ``mpv_scripts/kizunasr.lua`` (realtime shaders, AI still on pause)."""
