"""The Jinja2 sandbox that message templates render in, bounded in size, work and time.

Jinja2's `SandboxedEnvironment` keeps a template away from Python's internals, but not from
working hard: `{{ "x" * 10**7 }}` renders 10 MB from 20 bytes, nested loops over `range` run
for minutes, and a string doubled in a loop fills the memory. An organisation writes its own
templates, so here every render is bounded:

- work: every loop iteration, call, filter, attribute lookup, operator and piece of output is
  a step; a render takes at most `MAX_STEPS` steps and the given seconds (the clock is read
  at every step, so the bound holds inside loops that call nothing);
- size: every value the template makes (an operator, a call, a filter, a list or dict
  literal, a `~` concatenation) is at most `limit` characters or items, and an operation that
  would make a bigger one is refused before it runs (`"x" * n`, `n ** m`, `"%9999999s" % x`,
  `replace`, `join`, widths); `range` gives at most `MAX_RANGE` numbers;
- output: what the template writes, including into `{% set %}` blocks and macros, is at most
  `WRITTEN_FACTOR` times `limit`, and each rendered text at most `limit` characters.

Loops, concatenation, literals and output are routed through the environment by the code
generator (Jinja2's documented `code_generator_class` hook); operators through the sandbox's
`intercepted_binops`. Templates compile without constant folding, so nothing is evaluated
before a render's budget is in place. Filters that only multiply text (`indent`, `wordwrap`,
`pprint`, `urlize`, `xmlattr`) and `sum` (quadratic on lists) are left out, and so are the
string methods `expandtabs` and `translate`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, wraps
from string import Formatter
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import TemplateError, TemplateSyntaxError
from jinja2.filters import FILTERS
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from amends.errors import ValidationFailed

MAX_STEPS = 100_000
MAX_RANGE = 10_000
MAX_INT_BITS = 10_000
WRITTEN_FACTOR = 4
LEFT_OUT_FILTERS = frozenset({"indent", "wordwrap", "pprint", "urlize", "xmlattr", "sum"})
LEFT_OUT_STRING_METHODS = frozenset({"expandtabs", "translate", "maketrans"})
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


class InvalidTemplate(ValidationFailed):
    code, title = "invalid_template", "The template does not render"


class TemplateTooLarge(InvalidTemplate):
    code, title = "template_too_large", "The template renders too much text"


class TemplateTooComplex(InvalidTemplate):
    code, title = "template_too_complex", "The template takes too much work to render"


@dataclass(slots=True)
class Budget:
    limit: int
    deadline: float
    steps: int = 0
    written: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateTooComplex(f"It takes over {MAX_STEPS:,} steps (loop turns, calls, "
                                     "filters and lookups).")
        if time.monotonic() > self.deadline:
            raise TemplateTooComplex("It takes too long to render.")

    def fits(self, size: int, what: str) -> None:
        if size > self.limit:
            raise TemplateTooLarge(f"{what} would be over {self.limit:,} characters.")

    def checked(self, value: Any) -> Any:
        self.fits(weight(value, self.limit), "A value it makes")
        return value


_budget: ContextVar[Budget | None] = ContextVar("amends_template_budget", default=None)


def _current() -> Budget:
    budget = _budget.get()
    if budget is None:
        # Only a render has a budget: evaluating anything at compile time is refused, so the
        # compiler leaves it for the render.
        raise TemplateError("not rendering")
    return budget


def weight(value: Any, ceiling: int) -> int:
    """About how many characters `value` makes as text: lengths of strings, items of
    collections, digits of numbers. Stops counting past `ceiling`."""
    total, stack = 0, [value]
    while stack and total <= ceiling:
        item = stack.pop()
        if isinstance(item, str | bytes | range):
            total += len(item)
        elif isinstance(item, bool) or not isinstance(item, int | list | tuple | set |
                                                      frozenset | dict):
            total += 1
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += len(item)
            stack.extend(item)
    return total


def _numbers_fit(budget: Budget, args: Iterable[Any]) -> None:
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > budget.limit:
            raise TemplateTooLarge(f"A width or count of {value:,} is over the limit of "
                                   f"{budget.limit:,}.")


def _check_replace(budget: Budget, text: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old, new = str(text), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    budget.fits(len(text) + times * max(0, len(new) - len(old)), "The replaced text")


def _check_join(budget: Budget, separator: Any, items: Sequence[Any]) -> None:
    budget.fits(weight(items, budget.limit) + len(str(separator)) * len(items),
                "The joined text")


def _check_printf(budget: Budget, pattern: str, values: Any) -> None:
    specs = _PRINTF_SPEC.findall(pattern)
    if any("*" in (width, precision) for width, precision in specs):
        raise InvalidTemplate("A `*` width or precision is not allowed; write the number.")
    widths = sum(int(width or 0) + int(precision or 0) for width, precision in specs)
    budget.fits(len(pattern) + widths + len(specs) * weight(values, budget.limit),
                "The formatted text")


def _check_format(budget: Budget, pattern: str, values: Any) -> None:
    try:
        fields = [spec or "" for _, name, spec, _ in Formatter().parse(pattern)
                  if name is not None]
    except ValueError as exc:
        raise InvalidTemplate(f"format(): {exc}") from exc
    if any("{" in spec for spec in fields):
        raise InvalidTemplate("A format spec taken from an argument is not allowed.")
    widths = sum(int(n) for spec in fields for n in re.findall(r"\d+", spec))
    budget.fits(len(pattern) + widths + len(fields) * weight(values, budget.limit),
                "The formatted text")


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateTooComplex(f"range() of {len(numbers):,} numbers; at most "
                                 f"{MAX_RANGE:,}.")
    return numbers


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters marked pass_context / pass_eval_context / pass_environment get that first.
    skip = 2 if getattr(func, "jinja_pass_arg", None) is not None else 1

    @wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _current()
        budget.step()
        value, extra = args[skip - 1], args[skip:]
        if name == "join":
            items = list(value)
            _check_join(budget, extra[0] if extra else kwargs.get("d", ""), items)
            args = (*args[:skip - 1], items, *extra)
        elif name == "replace":
            _check_replace(budget, value, *extra, **kwargs)
        elif name == "format":
            _check_printf(budget, str(value), kwargs or extra)
        else:
            _numbers_fit(budget, (*extra, *kwargs.values()))
        return budget.checked(func(*args, **kwargs))

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    """Writes loops, `~`, literals and output through the environment's bounded helpers."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        counted = nodes.Call(nodes.EnvironmentAttribute("counted"), [node.iter], [], None, None,
                             lineno=node.iter.lineno)
        super().visit_For(nodes.For(node.target, counted, node.body, node.else_, node.test,
                                    node.recursive, lineno=node.lineno), frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        else:
            join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        self.write(f"environment.joined({join}, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.made(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.made(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # a loop's or an assignment's target
            super().visit_Tuple(node, frame)
            return
        self.write("environment.made(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.emitted({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.emitted(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """An immutable sandbox whose renders keep to the `Budget` in force (see the module)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, optimized=False)
        self.globals.pop("lipsum", None)
        self.globals["range"] = _bounded_range
        self.filters = {name: _bounded_filter(name, func) for name, func in
                        FILTERS.items() if name not in LEFT_OUT_FILTERS}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in LEFT_OUT_STRING_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _current().step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _current().step()
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _current()
        budget.step()
        if operator == "*":
            for repeated, times in ((left, right), (right, left)):
                if isinstance(times, int) and isinstance(repeated, str | bytes | list | tuple):
                    budget.fits(weight(repeated, budget.limit) * max(times, 0),
                                "The repeated value")
            if isinstance(left, int) and isinstance(right, int) and \
                    left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateTooLarge("The product is too large a number.")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and \
                    abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS:
                raise TemplateTooLarge("The power is too large a number.")
        elif operator == "+":
            if not isinstance(left, int | float) and not isinstance(right, int | float):
                budget.fits(weight(left, budget.limit) + weight(right, budget.limit),
                            "The sum")
        elif operator == "%" and isinstance(left, str):
            _check_printf(budget, left, right)
        return budget.checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        # Named like Jinja2's own: a template's keyword arguments cannot clash with these.
        budget = _current()
        budget.step()
        if isinstance(__obj, LoopContext) and args:  # the next level of a recursive loop
            args = (__self.counted(args[0]), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _numbers_fit(budget, (*args, *kwargs.values()))
            method = getattr(__obj, "__name__", "")
            if method == "replace":
                _check_replace(budget, owner, *args, **kwargs)
            elif method == "join" and args:
                items = list(args[0])
                _check_join(budget, owner, items)
                args = (items, *args[1:])
        return budget.checked(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        pattern: str = value.__self__

        @wraps(formatter)
        def bounded(*args: Any, **kwargs: Any) -> str:
            budget = _current()
            budget.step()
            _check_format(budget, pattern, (args, kwargs))
            result: str = budget.checked(formatter(*args, **kwargs))
            return result

        return bounded

    def counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """What a `{% for %}` loop walks: each turn is a step."""
        budget = _current()
        for item in iterable:
            budget.step()
            yield item

    def joined(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        """`a ~ b ~ c`, refused before it is built when it would be too long."""
        budget = _current()
        budget.step()
        budget.fits(sum(weight(part, budget.limit) for part in parts), "The joined text")
        result: str = budget.checked(join(parts))
        return result

    def made(self, value: Any) -> Any:
        """A list, tuple or dict literal."""
        budget = _current()
        budget.step()
        return budget.checked(value)

    def emitted(self, text: str) -> str:
        """A piece of output, at the top or into a `{% set %}` block, a macro or a filter."""
        budget = _current()
        budget.step()
        budget.written += len(text)
        if budget.written > WRITTEN_FACTOR * budget.limit:
            raise TemplateTooLarge(f"It writes over {WRITTEN_FACTOR * budget.limit:,} "
                                   "characters.")
        return text


_text = BoundedEnvironment(autoescape=False)
_html = BoundedEnvironment(autoescape=True)


@lru_cache(maxsize=512)
def compiled(source: str, html: bool) -> Template:
    # Compiling costs milliseconds; the same few sources are rendered all day.
    return (_html if html else _text).from_string(source)


def render_all(sources: Sequence[tuple[str, bool]], context: dict[str, Any], *, limit: int,
               seconds: float) -> list[str]:
    """Render each (source, is_html) with `context`, all within one budget: `limit` characters
    for each text and each value, `seconds` and `MAX_STEPS` steps for all of them.

    Raises `InvalidTemplate` (a syntax error, an unknown variable, a sandbox refusal, an error
    while rendering), `TemplateTooLarge` or `TemplateTooComplex`, each saying why."""
    try:
        templates = [compiled(source, html) for source, html in sources]
        token = _budget.set(Budget(limit=limit, deadline=time.monotonic() + seconds))
        try:
            texts = [template.render(context) for template in templates]
        finally:
            _budget.reset(token)
    except InvalidTemplate:
        raise
    except TemplateSyntaxError as exc:
        raise InvalidTemplate(f"Line {exc.lineno}: {exc.message}") from exc
    except (TemplateError, Exception) as exc:  # a template's error is the template's fault
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidTemplate(detail[:500]) from exc
    for text in texts:
        if len(text) > limit:
            raise TemplateTooLarge(f"It renders {len(text):,} characters; at most {limit:,}.")
    return texts


# Blocks whose output is not written as it is (captured, filtered, passed to a macro) or is
# escaped otherwise: a value printed inside one is not a plain slot.
_REWORKED = (nodes.AssignBlock, nodes.Macro, nodes.CallBlock, nodes.FilterBlock,
             nodes.EvalContextModifier)


def _plain_uses(node: nodes.Node, names: frozenset[str], *, field: str = "",
                parent: nodes.Node | None = None, reworked: bool = False) -> bool:
    """Whether every use of `names` under `node` is printed as it is (`{{ name }}`) or is the
    whole test of an `{% if name %}`, and none is assigned or shadowed."""
    if isinstance(node, nodes.Name) and node.name in names:
        if node.ctx != "load":
            return False
        printed = isinstance(parent, nodes.Output) and not reworked
        return printed or (isinstance(parent, nodes.If) and field == "test")
    reworked = reworked or isinstance(node, _REWORKED)
    for name, value in node.iter_fields():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, nodes.Node) and not _plain_uses(
                    child, names, field=name, parent=node, reworked=reworked):
                return False
    return True


@lru_cache(maxsize=512)
def _slots_only(source: str, html: bool, names: frozenset[str]) -> bool:
    try:
        return _plain_uses((_html if html else _text).parse(source), names)
    except TemplateSyntaxError:
        return False  # rendered one by one, which says what is wrong


def render_each(sources: Sequence[tuple[str, bool]], contexts: Sequence[dict[str, Any]], *,
                limit: int, seconds: float) -> list[list[str] | InvalidTemplate]:
    """`render_all` for each context (the texts, or why they do not render), rendering each
    template once for many contexts where that gives the same texts.

    Contexts that differ only in text values that every template prints as they are
    (`{{ customer_name }}`) or tests alone (`{% if code %}`) share a render for each pattern
    of which of those values are empty: it is rendered once with a marker in the place of
    each differing value, and each context's own values are then put in the markers' places
    (escaped in HTML, as the template would). An incident's hundred customers who read the
    same template in the same language cost one render and a hundred substitutions."""
    first = contexts[0] if contexts else {}
    varying = frozenset(key for key in first if any(c[key] != first[key] for c in contexts))
    alike = all(c.keys() == first.keys() for c in contexts) and all(
        type(c[key]) is str for c in contexts for key in varying)
    if len(contexts) < 2 or not alike or not all(
            _slots_only(source, html, varying) for source, html in sources):
        return [_rendered_or_problem(sources, context, limit=limit, seconds=seconds)
                for context in contexts]
    keys = sorted(varying)
    token = secrets.token_hex(8)
    marker = re.compile(f"\x1a(\\d+){token}\x1a")
    groups: dict[tuple[bool, ...], list[int]] = {}
    for n, context in enumerate(contexts):
        groups.setdefault(tuple(bool(context[key]) for key in keys), []).append(n)
    results: list[list[str] | InvalidTemplate] = [[] for _ in contexts]
    for pattern, members in groups.items():
        marked = {**contexts[members[0]], **{
            key: f"\x1a{n}{token}\x1a" if full else "" for n, (key, full) in
            enumerate(zip(keys, pattern, strict=True))}}
        texts = _rendered_or_problem(sources, marked, limit=limit, seconds=seconds)
        for n in members:
            if isinstance(texts, InvalidTemplate):
                results[n] = texts
                continue
            values = [contexts[n][key] for key in keys]
            escaped = [str(escape(value)) for value in values]
            filled = [_filled(marker, text, escaped if html else values)
                      for text, (_, html) in zip(texts, sources, strict=True)]
            longest = max(len(text) for text in filled)
            results[n] = filled if longest <= limit else TemplateTooLarge(
                f"It renders {longest:,} characters; at most {limit:,}.")
    return results


def _filled(marker: re.Pattern[str], text: str, values: list[str]) -> str:
    return marker.sub(lambda found: values[int(found[1])], text)


def _rendered_or_problem(sources: Sequence[tuple[str, bool]], context: dict[str, Any], *,
                         limit: int, seconds: float) -> list[str] | InvalidTemplate:
    try:
        return render_all(sources, context, limit=limit, seconds=seconds)
    except InvalidTemplate as problem:
        return problem
