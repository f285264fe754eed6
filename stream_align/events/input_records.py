"""A decoded ``TripleChange`` built without pydantic's validation where every rule is checked
here.

A bulk backlog decodes one record per triple (208,566 for DBP15K zh_en): the model's
validation — a core-schema walk with an after-validator per key, the op rule, the limits —
was most of the per-record CPU the codec spends after the JSON parse (decision 0105).
:func:`triple_change` takes the parsed JSON document of a ``TripleChange`` and returns the
model ``from_record`` would return for it — the same field values, types and order, the same
pydantic state — or ``None`` where any value is not of the exact plain type the schema's
quick check and the model keep as they are, or breaks any rule: the schema's (every field
present, no other, types), the model's (``Key``, the time range, ``_fields_match_op``) and
the input limits (``events.limits``). ``None`` sends the document down the full path, which
raises the ``DecodeError`` it raised before or normalises the value: only documents that
path accepts unchanged take this one, so nothing a producer sends is read differently.
"""

from __future__ import annotations

from typing import Any

from stream_align.events.contracts import MAX_EVENT_TIME_MS, TripleChange, TripleOp
from stream_align.events.limits import InputLimits

_FIELDS = tuple(TripleChange.model_fields)
"""The model's (and schema's) field order: what ``__dict__`` holds after validation."""
_FIELD_SET = frozenset(_FIELDS)
_OPS = {op.value: op for op in TripleOp}  # no UNKNOWN: the full path reports unknown_symbol
_TRIPLE_OPS = frozenset({TripleOp.ADD_TRIPLE, TripleOp.REMOVE_TRIPLE})


def _size(text: str) -> int:
    """UTF-8 bytes of ``text``; -1 if it cannot be encoded (a lone surrogate, which the model
    refuses as ``string_unicode``)."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return -1


def _keys_fit(values: tuple[object, ...], limit: int, escaped: bool) -> bool:
    """Each value a ``Key`` as decoded (``None`` where ``optional``): a non-empty ``str``
    of at most ``limit`` UTF-8 bytes that encodes. Without ``escaped`` (no ``\\u`` escape in
    the record's text, so no lone surrogate in its strings) a key of at most ``limit / 4``
    characters fits without being encoded (as ``check_key`` skips it)."""
    quarter = limit // 4
    for value in values:
        if type(value) is not str or not value:
            return False
        if (escaped or len(value) > quarter) and not 0 <= _size(value) <= limit:
            return False
    return True


def _attributes(value: object, limits: InputLimits, escaped: bool) -> bool:
    """``check_attributes`` with ``limits``, on a ``dict`` of exact ``str`` keys and values."""
    if type(value) is not dict:
        return False
    if not value:
        return True
    if len(value) > limits.max_attributes:
        return False
    chars = 0
    for name, text in value.items():
        if type(name) is not str or type(text) is not str:
            return False
        chars += len(name) + len(text)
    if not escaped and chars * 4 <= limits.max_attribute_bytes:
        return True
    total = 0
    for name, text in value.items():
        a, b = _size(name), _size(text)
        if a < 0 or b < 0:
            return False
        total += a + b
    return total <= limits.max_attribute_bytes


def _op_fields(op: TripleOp, relation: object, tail: object, entity_type: object,
               attributes: dict[str, str]) -> bool:
    """``TripleChange._fields_match_op``."""
    if op in _TRIPLE_OPS:
        return relation is not None and tail is not None and entity_type is None \
            and not attributes
    if relation is not None or tail is not None:
        return False
    return op is not TripleOp.DELETE_ENTITY or (entity_type is None and not attributes)


def triple_change(document: dict[str, Any], limits: InputLimits,
                  escaped: bool = True) -> TripleChange | None:
    """The ``TripleChange`` that ``Codec`` decodes from the JSON ``document``, or ``None``
    (then the full path decides: it raises, or normalises the value). ``escaped``: whether
    the record's text may hold a ``\\u`` escape (only through one can a decoded string hold
    a lone surrogate: the text itself was valid UTF-8)."""
    if document.keys() != _FIELD_SET:
        return None
    op = _OPS.get(document["op"]) if type(document["op"]) is str else None
    event_time, attributes = document["event_time"], document["attributes"]
    relation, tail = document["relation"], document["tail"]
    entity_type = document["entity_type"]
    given = tuple(v for v in (relation, tail, entity_type) if v is not None)
    if not (op is not None and type(event_time) is int and 0 <= event_time <= MAX_EVENT_TIME_MS
            and _keys_fit((document["event_id"], document["graph"], document["head"], *given),
                          limits.max_key_bytes, escaped)
            and _attributes(attributes, limits, escaped)
            and _op_fields(op, relation, tail, entity_type, attributes)):
        return None
    values = {"event_id": document["event_id"], "event_time": event_time,
              "graph": document["graph"], "op": op, "head": document["head"],
              "relation": relation, "tail": tail, "entity_type": entity_type,
              "attributes": attributes}
    return _built(values)


def _built(values: dict[str, Any]) -> TripleChange:
    """The model holding ``values`` (checked), in the state ``model_validate`` leaves: its
    field values in field order, every field set, no extra, no private attributes (what
    ``BaseModel.model_construct`` sets, without its per-field default and alias handling)."""
    event = TripleChange.__new__(TripleChange)
    object.__setattr__(event, "__dict__", values)
    object.__setattr__(event, "__pydantic_fields_set__", set(_FIELDS))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event
