"""Multiply-adds of one shader invocation, read from its SPIR-V (unoptimised, as shaderc compiles it for
``render.macs``).

Counted per instruction, by the width of its operands: a float multiply of N components is N (``a * b`` on
vec4s, vec4 * float, fma), a matrix times a vector rows x columns (mat4 * vec4 = 16), a dot product of vecN N,
``mix`` N, and the integer dot products of 8-bit packed vectors (``dp4a``) 4 per packed word. Additions,
divisions, integer address maths and texture reads are not counted: on a convolution each multiply-add is one
multiply, and the rest is small beside it.

Control flow: both sides of a branch count (an upper bound, like a GPU's divergent warp); a loop body counts
its trip count, worked out from the loop variable's constant start, bound and step (the
``for (int i = A; i < B; i += C)`` that glslang compiles to a load, compare and store; B may also be a local
variable set once to a constant); ``break`` is not followed. A loop whose count is not a constant counts once
and is reported in ``Count.unknown_loops``. A function call counts its callee.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kizunasr_vs.core.errors import KizunaError

MAGIC = 0x07230203
MAX_TRIPS = 1 << 20  # a loop beyond this is taken as not understood

# Opcodes (SPIR-V 1.6 unified grammar).
OP_NAME, OP_EXT_INST_IMPORT, OP_EXT_INST = 5, 11, 12
OP_TYPE_BOOL, OP_TYPE_INT, OP_TYPE_FLOAT, OP_TYPE_VECTOR, OP_TYPE_MATRIX = 20, 21, 22, 23, 24
OP_CONSTANT, OP_FUNCTION, OP_FUNCTION_END, OP_FUNCTION_CALL = 43, 54, 56, 57
OP_LOAD, OP_STORE = 61, 62
OP_ENTRY_POINT = 15
OP_FMUL, OP_VECTOR_TIMES_SCALAR, OP_MATRIX_TIMES_SCALAR = 133, 142, 143
OP_VECTOR_TIMES_MATRIX, OP_MATRIX_TIMES_VECTOR, OP_MATRIX_TIMES_MATRIX = 144, 145, 146
OP_OUTER_PRODUCT, OP_DOT = 147, 148
OP_IADD, OP_ISUB, OP_IMUL = 128, 130, 132
OP_SHIFT_RIGHT_LOGICAL, OP_SHIFT_RIGHT_ARITHMETIC, OP_SHIFT_LEFT_LOGICAL = 194, 195, 196
OP_LOOP_MERGE, OP_LABEL = 246, 248
OP_BRANCH, OP_BRANCH_CONDITIONAL, OP_SWITCH = 249, 250, 251
OP_SDOT, OP_SUDOT_ACC_SAT = 4450, 4455  # SPV_KHR_integer_dot_product: OpSDot .. OpSUDotAccSat
# Instructions whose first operand may be a type id without being a result type (debug info, annotations,
# type declarations, entry points).
_NOT_TYPED = frozenset({3, 4, 5, 6, 7, 8, 10, 11, 14, 15, 16, 17, *range(19, 40), 71, 72, 73, 74, 75, 317, 330, 331,
                        332, 5632, 5633})

GLSL_STD_450 = "GLSL.std.450"
_FMIX, _FMA, _LENGTH, _DISTANCE, _CROSS, _NORMALIZE = 46, 50, 66, 67, 68, 69

_COMPARE: dict[int, Callable[[int, int], bool]] = {
    170: operator.eq, 171: operator.ne,  # OpIEqual, OpINotEqual
    172: operator.gt, 173: operator.gt, 174: operator.ge, 175: operator.ge,  # U/S GreaterThan(Equal)
    176: operator.lt, 177: operator.lt, 178: operator.le, 179: operator.le,  # U/S LessThan(Equal)
}
_STEP: dict[int, Callable[[int, int], int]] = {
    OP_IADD: operator.add, OP_ISUB: operator.sub, OP_IMUL: operator.mul,
    OP_SHIFT_LEFT_LOGICAL: operator.lshift, OP_SHIFT_RIGHT_LOGICAL: operator.rshift,
    OP_SHIFT_RIGHT_ARITHMETIC: operator.rshift,
}


class SpirvError(KizunaError, ValueError):
    """Not a SPIR-V module this counter understands."""


@dataclass(frozen=True)
class Count:
    """Multiply-adds of one invocation of the entry point."""

    macs: int
    unknown_loops: int = 0  # loops counted once because their trip count is not a constant


@dataclass(frozen=True)
class _Type:
    kind: str  # "float", "int", "bool", "vector", "matrix"
    width: int = 32  # scalar bits
    signed: bool = True
    count: int = 1  # vector components, or matrix columns
    element: int = 0  # vector component type id, or matrix column type id


@dataclass
class _Block:
    label: int
    instructions: list[tuple[int, list[int]]] = field(default_factory=list)
    successors: list[int] = field(default_factory=list)
    loop: tuple[int, int] | None = None  # (merge, continue) of an OpLoopMerge in this block


@dataclass
class _Function:
    id: int
    blocks: dict[int, _Block] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)


def instructions(words: Sequence[int]) -> Iterable[tuple[int, list[int]]]:
    """(opcode, operand words) of each instruction after the 5-word header."""
    if len(words) < 5 or words[0] != MAGIC:
        raise SpirvError("not a SPIR-V module (bad magic number)")
    i = 5
    while i < len(words):
        count, opcode = words[i] >> 16, words[i] & 0xFFFF
        if count == 0 or i + count > len(words):
            raise SpirvError(f"truncated SPIR-V instruction at word {i}")
        yield opcode, list(words[i + 1:i + count])
        i += count


def _string(ops: Sequence[int]) -> str:
    raw = struct.pack(f"<{len(ops)}I", *ops)
    return raw.split(b"\0", 1)[0].decode(errors="replace")


class Module:
    """A parsed module: types, integer constants, value types, functions as basic blocks."""

    def __init__(self, words: Sequence[int]) -> None:
        self.types: dict[int, _Type] = {}
        self.constants: dict[int, int] = {}
        self.type_of: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.glsl_std: int | None = None
        self.entry: int | None = None
        self.functions: dict[int, _Function] = {}
        self.defs: dict[int, tuple[int, list[int]]] = {}  # result id -> defining instruction (in functions)
        self._counted: dict[int, Count] = {}
        current: _Function | None = None
        block: _Block | None = None
        for opcode, ops in instructions(words):
            self._declare(opcode, ops)
            if opcode == OP_FUNCTION:
                current = _Function(ops[1])
                self.functions[ops[1]] = current
            elif opcode == OP_FUNCTION_END:
                current = block = None
            elif current is None:
                continue
            elif opcode == OP_LABEL:
                block = _Block(ops[0])
                current.blocks[ops[0]] = block
                current.order.append(ops[0])
            elif block is not None:
                block.instructions.append((opcode, ops))
                if opcode not in _NOT_TYPED and len(ops) >= 2 and ops[0] in self.types:
                    self.defs[ops[1]] = (opcode, ops)
                if opcode == OP_LOOP_MERGE:
                    block.loop = (ops[0], ops[1])
                elif opcode == OP_BRANCH:
                    block.successors = [ops[0]]
                elif opcode == OP_BRANCH_CONDITIONAL:
                    block.successors = [ops[1], ops[2]]
                elif opcode == OP_SWITCH:
                    block.successors = [ops[1], *ops[3::2]]  # default, then (32-bit literal, label) pairs
        if self.entry is None:
            raise SpirvError("the SPIR-V module has no entry point")

    def _declare(self, opcode: int, ops: list[int]) -> None:
        if opcode == OP_TYPE_FLOAT:
            self.types[ops[0]] = _Type("float", ops[1])
        elif opcode == OP_TYPE_INT:
            self.types[ops[0]] = _Type("int", ops[1], bool(ops[2]))
        elif opcode == OP_TYPE_BOOL:
            self.types[ops[0]] = _Type("bool")
        elif opcode == OP_TYPE_VECTOR:
            self.types[ops[0]] = _Type("vector", count=ops[2], element=ops[1])
        elif opcode == OP_TYPE_MATRIX:
            self.types[ops[0]] = _Type("matrix", count=ops[2], element=ops[1])
        elif opcode == OP_CONSTANT and self.types.get(ops[0], _Type("")).kind == "int":
            t = self.types[ops[0]]
            value = ops[2]
            if t.signed and value & (1 << (t.width - 1)) and t.width == 32:
                value -= 1 << 32
            self.constants[ops[1]] = value
        elif opcode == OP_NAME:
            self.names[ops[0]] = _string(ops[1:])
        elif opcode == OP_EXT_INST_IMPORT and _string(ops[1:]) == GLSL_STD_450:
            self.glsl_std = ops[0]
        elif opcode == OP_ENTRY_POINT and self.entry is None:
            self.entry = ops[1]
        if opcode not in _NOT_TYPED and len(ops) >= 2 and ops[0] in self.types:
            self.type_of[ops[1]] = ops[0]

    # -- types -----------------------------------------------------------------------------------

    def scalar(self, type_id: int) -> _Type:
        t = self.types.get(type_id)
        while t is not None and t.kind in ("vector", "matrix"):
            t = self.types.get(t.element)
        return t or _Type("")

    def components(self, type_id: int) -> int:
        """Scalars in a value of this type (vecN: N, matCxR: C*R)."""
        t = self.types.get(type_id)
        if t is None:
            return 0
        if t.kind in ("vector", "matrix"):
            return t.count * self.components(t.element)
        return 1

    def value_components(self, value_id: int) -> int:
        return self.components(self.type_of.get(value_id, 0))

    # -- counting --------------------------------------------------------------------------------

    def macs(self, opcode: int, ops: list[int]) -> int:
        """Multiply-adds of one instruction."""
        if opcode in (OP_FMUL, OP_VECTOR_TIMES_SCALAR, OP_MATRIX_TIMES_SCALAR, OP_OUTER_PRODUCT):
            return self.components(ops[0]) if self.scalar(ops[0]).kind == "float" else 0
        if opcode == OP_MATRIX_TIMES_VECTOR:
            return self.value_components(ops[2])
        if opcode == OP_VECTOR_TIMES_MATRIX:
            return self.value_components(ops[3])
        if opcode == OP_MATRIX_TIMES_MATRIX:
            right = self.types.get(self.type_of.get(ops[3], 0))
            return self.value_components(ops[2]) * (right.count if right else 0)
        if opcode == OP_DOT:
            return self.value_components(ops[2])
        if OP_SDOT <= opcode <= OP_SUDOT_ACC_SAT:
            operand = self.types.get(self.type_of.get(ops[2], 0))
            return 4 if operand is not None and operand.kind == "int" else self.value_components(ops[2])
        if opcode == OP_EXT_INST and ops[2] == self.glsl_std and self.scalar(ops[0]).kind == "float":
            n = self.components(ops[0])
            arg = self.value_components(ops[4]) if len(ops) > 4 else 0
            return {_FMA: n, _FMIX: n, _LENGTH: arg, _DISTANCE: arg, _NORMALIZE: 2 * n, _CROSS: 6}.get(ops[3], 0)
        return 0

    def count(self) -> Count:
        """Multiply-adds of one invocation of the entry point, callees and loops included."""
        assert self.entry is not None
        return self._function_count(self.entry, ())

    def _function_count(self, function_id: int, stack: tuple[int, ...]) -> Count:
        if function_id in stack:
            raise SpirvError("recursive function calls")
        if function_id not in self._counted:
            self._counted[function_id] = self._count_function(function_id, stack)
        return self._counted[function_id]

    def _count_function(self, function_id: int, stack: tuple[int, ...]) -> Count:
        function = self.functions.get(function_id)
        if function is None:
            raise SpirvError(f"call of an undefined function %{function_id}")
        multiplicity, unknown = self._multiplicities(function)
        total = 0
        for label, block in function.blocks.items():
            times = multiplicity.get(label, 1)
            for opcode, ops in block.instructions:
                if opcode == OP_FUNCTION_CALL:
                    callee = self._function_count(ops[2], (*stack, function_id))
                    total += times * callee.macs
                    unknown += callee.unknown_loops
                else:
                    total += times * self.macs(opcode, ops)
        return Count(total, unknown)

    # -- loops -----------------------------------------------------------------------------------

    def _multiplicities(self, function: _Function) -> tuple[dict[int, int], int]:
        """How many times each block runs per call (the product of the trip counts of the loops around it),
        and how many loops had no constant trip count."""
        times = dict.fromkeys(function.blocks, 1)
        unknown = 0
        for label in function.order:
            block = function.blocks[label]
            if block.loop is None:
                continue
            trips = self._trip_count(function, block)
            if trips is None:
                unknown += 1
                continue
            for inside in self._loop_blocks(function, label, block.loop[0]):
                times[inside] *= trips
        return times, unknown

    @staticmethod
    def _loop_blocks(function: _Function, header: int, merge: int) -> set[int]:
        """The header and every block reachable from it without leaving through the merge block."""
        seen = {header}
        todo = [header]
        while todo:
            for nxt in function.blocks[todo.pop()].successors:
                if nxt != merge and nxt not in seen and nxt in function.blocks:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def _trip_count(self, function: _Function, header: _Block) -> int | None:
        """Iterations of a loop that tests before its body: start, bound and step all constants."""
        assert header.loop is not None
        merge = header.loop[0]
        test = self._exit_test(function, header, merge)
        if test is None:
            return None
        compare, variable, bound_first, bound, exit_when_true = test
        body = self._loop_blocks(function, header.label, merge)
        start = self._start_value(function, header.label, body, variable)
        step = self._step(function, body, variable)
        if start is None or step is None:
            return None
        value, trips = start, 0
        while trips <= MAX_TRIPS:
            holds = compare(bound, value) if bound_first else compare(value, bound)
            if holds == exit_when_true:
                return trips
            trips += 1
            value = step(value)
        return None

    def _exit_test(self, function: _Function, header: _Block, merge: int
                   ) -> tuple[Callable[[int, int], bool], int, bool, int, bool] | None:
        """(compare, loop variable, bound is the left operand, bound, exits when the compare holds) of the
        conditional branch to the merge block in the header or the block it branches to."""
        candidates = [header]
        if len(header.successors) == 1 and header.successors[0] in function.blocks:
            candidates.append(function.blocks[header.successors[0]])
        for block in candidates:
            opcode, ops = block.instructions[-1] if block.instructions else (0, [])
            if opcode != OP_BRANCH_CONDITIONAL or merge not in ops[1:3]:
                continue
            cond = self.defs.get(ops[0])
            if cond is None or cond[0] not in _COMPARE:
                return None
            left, right = cond[1][2], cond[1][3]
            for var_side, other, bound_first in ((left, right, False), (right, left, True)):
                variable = self._loaded_variable(var_side)
                bound = self._constant(function, other)
                if variable is not None and bound is not None:
                    return _COMPARE[cond[0]], variable, bound_first, bound, ops[1] == merge
            return None
        return None

    def _constant(self, function: _Function, value: int) -> int | None:
        """An integer constant, or the load of a local variable stored once, with a constant (``int n = 4;``)."""
        if value in self.constants:
            return self.constants[value]
        variable = self._loaded_variable(value)
        if variable is None:
            return None
        stores = [ops[1] for block in function.blocks.values() for opcode, ops in block.instructions
                  if opcode == OP_STORE and ops[0] == variable]
        return self.constants.get(stores[0]) if len(stores) == 1 else None

    def _loaded_variable(self, value: int) -> int | None:
        definition = self.defs.get(value)
        return definition[1][2] if definition is not None and definition[0] == OP_LOAD else None

    def _start_value(self, function: _Function, header: int, body: set[int], variable: int) -> int | None:
        """The constant last stored to the variable in the block that enters the loop."""
        entering = [b for b in function.blocks.values() if header in b.successors and b.label not in body]
        if len(entering) != 1:
            return None
        for opcode, ops in reversed(entering[0].instructions):
            if opcode == OP_STORE and ops[0] == variable:
                return self.constants.get(ops[1])
        return None

    def _step(self, function: _Function, body: set[int], variable: int) -> Callable[[int], int] | None:
        """The update of the only store to the variable inside the loop: variable (op) constant."""
        stores = [ops for label in body for opcode, ops in function.blocks[label].instructions
                  if opcode == OP_STORE and ops[0] == variable]
        if len(stores) != 1:
            return None
        definition = self.defs.get(stores[0][1])
        if definition is None or definition[0] not in _STEP:
            return None
        op = _STEP[definition[0]]
        left, right = definition[1][2], definition[1][3]
        if self._loaded_variable(left) == variable and right in self.constants:
            constant = self.constants[right]
            return lambda v: op(v, constant)
        if definition[0] in (OP_IADD, OP_IMUL) and self._loaded_variable(right) == variable and left in self.constants:
            constant = self.constants[left]
            return lambda v: op(constant, v)
        return None


def count_invocation(words: Sequence[int]) -> Count:
    """Multiply-adds of one invocation of the module's (first) entry point."""
    return Module(words).count()
