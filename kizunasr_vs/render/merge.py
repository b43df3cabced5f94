"""Which mpv user shaders can share one vs-placebo render and still give what rendering each on its own gives.

One render runs the hooks of one file stage by stage (the plane stages, plane after plane, then NATIVE,
MAIN, ...; libplacebo's ``pass_hook``), saves a stage's texture when the stage fires, answers
``NATIVE_CROPPED``/``input_size`` with the render's input and ``OUTPUT``/``target_size`` with its output,
keeps one name space for saved textures and for TEXTURE/BUFFER/PARAM blocks (a PARAM is defined in every
pass), and after a LINEAR or SIGMOID hook keeps the later stages in that light. Rendering each shader on its
own instead goes through a YUV444P16 frame between shaders. So a shader may join the shaders before it only
where none of that tells the two apart (float rounding and values beyond white aside). Known differences
left: the ``frame`` and ``random`` counters (pseudo-random patterns such as dither grain change, not their
statistics), and an alpha other than 1 written by one shader reaches the next (a YUV frame has none).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kizunasr_vs.render.source import parse_passes, split_blocks, texture_refs

# The step of one render at which each hook stage fires. The plane stages (step 0) fire plane after plane.
STAGE_STEP = {"RGB": 0, "LUMA": 0, "CHROMA": 0, "ALPHA": 0, "XYZ": 0, "CHROMA_SCALED": 1, "ALPHA_SCALED": 1,
              "NATIVE": 2, "MAIN": 3, "MAINPRESUB": 3, "LINEAR": 4, "SIGMOID": 5, "PREKERNEL": 6,
              "POSTKERNEL": 7, "SCALED": 8, "PREOUTPUT": 9, "OUTPUT": 10}
_COMMENT = re.compile(r"/\*.*?\*/|//(?!!)[^\n]*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]\w*")
_LINEAR_STEP = STAGE_STEP["LINEAR"]
_READS_INPUT = re.compile(r"\b(?:input_size|NATIVE_CROPPED)\b")
_READS_OUTPUT = re.compile(r"\b(?:target_size|OUTPUT)\b")


@dataclass(frozen=True)
class ShaderFacts:
    """What decides whether a shader can share a render with the shaders before and after it."""

    steps: tuple[int, int] | None  # first and last step its passes hook; None: no pass or an unknown stage
    declared: frozenset[str]  # TEXTURE, BUFFER and PARAM names
    saves: frozenset[str]
    borrowed: frozenset[str]  # textures bound before the shader makes them, stage textures aside
    other_stages: frozenset[str]  # stage textures it reads (BIND, sizes, WHEN) besides the ones it hooks
    resizes: bool
    offset: bool
    reads_input: bool  # input_size / NATIVE_CROPPED
    reads_output: bool  # target_size / OUTPUT
    words: frozenset[str]  # identifiers in its code (comments left out)


@functools.lru_cache(maxsize=64)
def shader_facts(text: str) -> ShaderFacts:
    """The facts of one user shader's text (its directives, and its code with comments left out); cached, as
    ``shader()`` asks again for every longer run it tries."""
    passes = parse_passes(text)
    hooked = {hook for p in passes for hook in p.hooks}
    steps = [STAGE_STEP.get(hook) for hook in hooked]
    known = [step for step in steps if step is not None]
    declared = {b.headers[0].split(maxsplit=1)[-1].strip() for b in split_blocks(text)
                if b.headers and b.headers[0].startswith(("TEXTURE", "BUFFER", "PARAM"))}
    own_stages = hooked | {"HOOKED"} | ({"MAIN", "MAINPRESUB"} if hooked & {"MAIN", "MAINPRESUB"} else set())
    made = set(declared)
    borrowed: set[str] = set()
    read: set[str] = set()
    for p in passes:
        exprs = [e for e in (p.width, p.height, p.when) if e]
        names = set(p.binds).union(*(texture_refs(e) for e in exprs))
        read |= names
        borrowed |= set(p.binds) - made - set(STAGE_STEP) - {"HOOKED"}
        if p.save:
            made.add(p.save)
    code = _COMMENT.sub("", text)
    return ShaderFacts(
        steps=(min(known), max(known)) if known and len(known) == len(steps) else None,
        declared=frozenset(declared),
        saves=frozenset(p.save for p in passes if p.save),
        borrowed=frozenset(borrowed),
        other_stages=frozenset((read & set(STAGE_STEP)) - own_stages),
        resizes=any(p.width or p.height for p in passes),
        offset=any(p.offset for p in passes),
        reads_input=bool(_READS_INPUT.search(code)),
        reads_output=bool(_READS_OUTPUT.search(code)),
        words=frozenset(_WORD.findall(code)),
    )


def can_share_render(texts: Sequence[str]) -> bool:
    """Whether the shaders, in this order, give in one render what they give rendered one by one."""
    if len(texts) < 2:
        return True
    all_facts = [shader_facts(text) for text in texts]
    names: set[str] = set()  # declared or saved by the shaders before
    declared: set[str] = set()
    reached, resized, read_stages_until = 0, False, -1
    for i, facts in enumerate(all_facts):
        first, last = i == 0, i == len(texts) - 1
        if facts.steps is None or facts.offset or facts.steps[0] < reached:
            return False  # a stage fired earlier than one before it would run first
        if facts.steps[0] <= read_stages_until:
            return False  # a shader before it reads a stage texture this one could change first
        if not last and (facts.steps[1] >= _LINEAR_STEP or facts.reads_output):
            return False  # later stages would see linear light / the render's scaling and output size
        if facts.declared & names or facts.saves & declared:
            return False  # a TEXTURE/BUFFER/PARAM block would answer another shader's name
        if any(facts.declared & other.words for j, other in enumerate(all_facts) if j != i):
            return False  # its PARAMs would be defined in the other shaders' passes too
        if not first and (facts.borrowed or facts.other_stages or facts.reads_input):
            return False  # it would read what the render had, not what the shader before it made
        if not first and facts.steps[0] == 0 and resized:
            return False  # planes are hooked plane by plane: its plane would not be resized yet
        names |= facts.declared | facts.saves
        declared |= facts.declared
        reached, resized = facts.steps[1], resized or facts.resizes
        if facts.other_stages:
            read_stages_until = facts.steps[1]
    return True


def merged_text(texts: Sequence[str]) -> str:
    """The shaders as one user-shader file, their blocks in order.

    Each file's text before its first ``//!`` (comments, which libplacebo skips) is left out: after another
    file it would become the end of that file's last block, e.g. the value of a trailing PARAM.
    """
    return "\n".join(text[text.find("//!"):].rstrip("\n") + "\n" for text in texts)
