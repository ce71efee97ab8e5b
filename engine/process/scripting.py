"""Restricted evaluation of BPMN conditions, timer expressions and scripts.

SpiffWorkflow's default environment runs ``eval``/``exec`` with full builtins, and giving it
RestrictedPython's ``safe_globals`` alone can be escaped through ``__subclasses__``. Here every
expression and script is *compiled* with RestrictedPython (names and attributes starting with
``_`` are refused at compile time) and sees only vetted builtins and the rules module.
"""

from __future__ import annotations

import functools

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from ..domain import rules


def _inplacevar(op: str, x, y):
    ops = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b,
           "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": lambda a, b: a % b}
    if op not in ops:
        raise SyntaxError(f"operator {op} is not allowed")
    return ops[op](x, y)


_BUILTINS = {**safe_builtins, **limited_builtins}
for _name in ("min", "max", "sum", "len", "abs", "round", "sorted", "any", "all", "dict", "list", "enumerate"):
    _BUILTINS[_name] = __builtins__[_name] if isinstance(__builtins__, dict) else getattr(__builtins__, _name)

VETTED: dict[str, object] = {
    "more_than_half": rules.more_than_half,
    "at_least_half": rules.at_least_half,
    "at_least_two_thirds": rules.at_least_two_thirds,
}

GLOBALS: dict[str, object] = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    **VETTED,
}


@functools.lru_cache(maxsize=4096)
def compile_restricted_source(source: str, mode: str):
    result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(source, "<bpmn>")
    if result.errors:
        err = SyntaxError("; ".join(result.errors))
        err.lineno = 1  # SpiffWorkflow's error reporter needs a line number
        err.offset = 0
        err.text = source
        raise err
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):
    def __init__(self):
        super().__init__(dict(GLOBALS))

    def evaluate(self, expression, context, external_context=None):
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        return eval(compile_restricted_source(expression.strip(), "eval"), my_globals)  # noqa: S307 - restricted bytecode

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        context.update(dict(self.globals))
        context.update(external_context or {})
        try:
            exec(compile_restricted_source(script, "exec"), context)  # noqa: S102 - restricted bytecode
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
            for key in list(context):
                if key.startswith("_"):
                    context.pop(key)
        return True


def script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=RestrictedEnvironment())
