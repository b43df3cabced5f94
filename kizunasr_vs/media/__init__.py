"""Video in and out around the filters: opening sources (bestsource) and encoding through ffmpeg.

Apart from the shader and model rooms because it touches files and processes, not pixels on a GPU.
"""
