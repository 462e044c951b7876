"""Okta's filter and search expressions (a subset of SCIM filters).

``parse`` turns ``profile.department eq "Engineering" and (created lt "2014-01-01T00:00:00.000Z"
or status eq "ACTIVE")`` into a tree; ``compile_expression`` checks the tree against a
``Grammar`` (what one query parameter of one endpoint accepts) and returns a predicate.

``and`` binds tighter than ``or``; parentheses group; operators and ``and``/``or`` are
case-insensitive, attribute names are case-sensitive. ``not`` parses everywhere but only
grammars that list it in ``logical`` accept it (the System Log's filter; Okta rejects it in
user and group searches). SCIM's ``[...]`` value filters are not supported anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from okta_hris.sandbox.clock import normalize_time

Value = str | int | float | bool | None
Predicate = Callable[[Any], bool]
Getter = Callable[[Any], Any]

OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "sw", "ew", "co", "pr"})
ORDERING = frozenset({"eq", "gt", "ge", "lt", "le"})

_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_$-]*(\.[A-Za-z_][A-Za-z0-9_$-]*)*\Z")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?\Z")


class ExpressionError(ValueError):
    """The expression does not parse, or uses what the grammar does not allow."""


class DateFormatError(ExpressionError):
    """A date attribute compared with something that is not a timestamp (Okta's E0000030)."""


@dataclass(frozen=True)
class Comparison:
    attribute: str
    operator: str
    value: Value = None


@dataclass(frozen=True)
class Logical:
    operator: Literal["and", "or"]
    terms: tuple[Expression, ...]


@dataclass(frozen=True)
class Negation:
    term: Expression


Expression = Comparison | Logical | Negation


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: Literal["(", ")", "string", "word"]
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "(":
            tokens.append(_Token("(", char, i))
            i += 1
        elif char == ")":
            tokens.append(_Token(")", char, i))
            i += 1
        elif char == '"':
            start, i, chars = i, i + 1, []
            while True:
                if i >= n:
                    raise ExpressionError(f"unterminated string at position {start}")
                char = text[i]
                if char == "\\" and i + 1 < n:
                    chars.append(text[i + 1])
                    i += 2
                elif char == '"':
                    i += 1
                    break
                else:
                    chars.append(char)
                    i += 1
            tokens.append(_Token("string", "".join(chars), start))
        elif char in "[]":
            raise ExpressionError(f"value filters ('{char}') are not supported")
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"[]':
                i += 1
            tokens.append(_Token("word", text[start:i], start))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise ExpressionError("unexpected end of expression")
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() == word:
            self.index += 1
            return True
        return False

    def expression(self) -> Expression:
        terms = [self.conjunction()]
        while self.keyword("or"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else Logical("or", tuple(terms))

    def conjunction(self) -> Expression:
        terms = [self.unary()]
        while self.keyword("and"):
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else Logical("and", tuple(terms))

    def unary(self) -> Expression:
        if self.keyword("not"):
            return Negation(self.unary())
        token = self.take()
        if token.kind == "(":
            inner = self.expression()
            closing = self.take()
            if closing.kind != ")":
                raise ExpressionError(f"expected ')' at position {closing.position}")
            return inner
        if token.kind != "word" or not _ATTRIBUTE.match(token.text):
            raise ExpressionError(f"expected an attribute at position {token.position}")
        operator_token = self.take()
        operator = operator_token.text.lower()
        if operator_token.kind != "word" or operator not in OPERATORS:
            raise ExpressionError(
                f"unknown operator {operator_token.text!r} at position {operator_token.position}"
            )
        if operator == "pr":
            return Comparison(token.text, operator)
        return Comparison(token.text, operator, self.value())

    def value(self) -> Value:
        token = self.take()
        if token.kind == "string":
            return token.text
        if token.kind == "word":
            word = token.text.lower()
            if word in ("true", "false"):
                return word == "true"
            if word == "null":
                return None
            if _NUMBER.match(token.text):
                number = float(token.text)
                return int(number) if number.is_integer() and "." not in token.text else number
        raise ExpressionError(f"expected a quoted value at position {token.position}")


def parse(text: str) -> Expression:
    parser = _Parser(text)
    if parser.peek() is None:
        raise ExpressionError("empty expression")
    expression = parser.expression()
    leftover = parser.peek()
    if leftover is not None:
        raise ExpressionError(f"unexpected {leftover.text!r} at position {leftover.position}")
    return expression


# --- grammars and compilation ----------------------------------------------------------------


@dataclass(frozen=True)
class AttributeRule:
    """How one attribute reads from a record and which operators may be applied to it."""

    getter: Getter
    operators: frozenset[str]
    kind: Literal["string", "date"] = "string"


@dataclass
class Grammar:
    """What one query parameter accepts. ``resolve`` maps an attribute name to its rule, or
    None when the parameter does not support that attribute; ``logical`` lists the logical
    operators it takes (``and``, ``or`` and, for some, ``not``)."""

    name: str
    resolve: Callable[[str], AttributeRule | None]
    case_sensitive: bool = False
    logical: frozenset[str] = field(default_factory=lambda: frozenset({"and", "or"}))

    def rule(self, attribute: str) -> AttributeRule:
        rule = self.resolve(attribute)
        if rule is None:
            raise ExpressionError(f"{self.name} does not support the attribute '{attribute}'")
        return rule


def compile_expression(expression: Expression, grammar: Grammar) -> Predicate:
    if isinstance(expression, Negation):
        if "not" not in grammar.logical:
            raise ExpressionError(f"{grammar.name} does not support 'not'")
        inner = compile_expression(expression.term, grammar)
        return lambda record: not inner(record)
    if isinstance(expression, Logical):
        if expression.operator not in grammar.logical:
            raise ExpressionError(f"{grammar.name} does not support '{expression.operator}'")
        parts = tuple(compile_expression(term, grammar) for term in expression.terms)
        if expression.operator == "and":
            return lambda record: all(part(record) for part in parts)
        return lambda record: any(part(record) for part in parts)
    return _compile_comparison(expression, grammar)


def compile_text(text: str, grammar: Grammar) -> Predicate:
    return compile_expression(parse(text), grammar)


def _compile_comparison(comparison: Comparison, grammar: Grammar) -> Predicate:
    rule = grammar.rule(comparison.attribute)
    operator = comparison.operator
    if operator not in rule.operators:
        raise ExpressionError(
            f"{grammar.name} does not support '{operator}' on '{comparison.attribute}'"
        )
    getter = rule.getter
    if operator == "pr":
        return lambda record: _present(getter(record))
    value = comparison.value
    fold = not grammar.case_sensitive
    if rule.kind == "date":
        if not isinstance(value, str):
            raise DateFormatError(f"'{comparison.attribute}' needs a quoted timestamp")
        try:
            value = normalize_time(value)
        except ValueError:
            raise DateFormatError(f"{value!r} is not a valid timestamp") from None
        fold = False
    test = _value_test(operator, value, fold)
    return lambda record: _any(getter(record), test)


def _present(actual: Any) -> bool:
    if isinstance(actual, list):
        return any(_present(item) for item in actual)
    return actual is not None and actual != ""


def _any(actual: Any, test: Callable[[Any], bool]) -> bool:
    # Okta follows SCIM for arrays: an array attribute matches when any element does.
    if isinstance(actual, list):
        return any(test(item) for item in actual if item is not None)
    return actual is not None and test(actual)


def _value_test(operator: str, value: Value, fold: bool) -> Callable[[Any], bool]:
    if isinstance(value, str):
        wanted = value.casefold() if fold else value

        def text(actual: Any) -> str | None:
            if not isinstance(actual, str):
                return None
            return actual.casefold() if fold else actual

        string_tests: dict[str, Callable[[str], bool]] = {
            "eq": lambda a: a == wanted,
            "ne": lambda a: a != wanted,
            "sw": lambda a: a.startswith(wanted),
            "ew": lambda a: a.endswith(wanted),
            "co": lambda a: wanted in a,
            "gt": lambda a: a > wanted,
            "ge": lambda a: a >= wanted,
            "lt": lambda a: a < wanted,
            "le": lambda a: a <= wanted,
        }
        string_test = string_tests[operator]

        def test_string(actual: Any) -> bool:
            folded = text(actual)
            return folded is not None and string_test(folded)

        return test_string
    if value is None:
        # ``attr eq null`` is how SCIM spells "absent"; nothing else compares with null.
        if operator == "eq":
            return lambda actual: False
        raise ExpressionError("null can only be compared with 'eq'")
    if isinstance(value, bool):
        if operator not in ("eq", "ne"):
            raise ExpressionError("booleans can only be compared with 'eq'")
        return lambda actual: isinstance(actual, bool) and (actual == value) == (operator == "eq")
    number = value
    number_tests: dict[str, Callable[[float], bool]] = {
        "eq": lambda a: a == number,
        "ne": lambda a: a != number,
        "gt": lambda a: a > number,
        "ge": lambda a: a >= number,
        "lt": lambda a: a < number,
        "le": lambda a: a <= number,
    }
    if operator not in number_tests:
        raise ExpressionError(f"'{operator}' needs a quoted string value")
    number_test = number_tests[operator]
    return lambda actual: (
        isinstance(actual, int | float) and not isinstance(actual, bool) and number_test(actual)
    )


def sort_key(getter: Getter) -> Callable[[Any], tuple[int, str]]:
    """Search results sorted by one attribute (case-insensitively; absent values first)."""

    def key(record: Any) -> tuple[int, str]:
        actual = getter(record)
        if isinstance(actual, list):
            actual = actual[0] if actual else None
        if actual is None:
            return (0, "")
        return (1, str(actual).casefold())

    return key
