"""Exchange cursors: a position signed for one caller, kind and region; anything else is refused."""

from __future__ import annotations

import base64
import struct
import uuid

import pytest

from emplan_shared.auth import Principal, Role
from emplan_shared.errors import BadRequest, NotFound
from emplan_shared.exchange import (
    MAX_ID,
    CursorSigner,
    ExchangeParams,
    IdScheme,
    Position,
    end_position,
    prepare,
)

KEY = b"k" * 32
BOUND = {"client": "prov-14", "kind": "data-values", "region": "140000"}


def _params(**overrides: object) -> ExchangeParams:
    values: dict[str, object] = {
        "cursor": None,
        "region": None,
        "limit": None,
        "include_deleted": True,
        "id_scheme": IdScheme.uid,
        "dry_run": False,
    }
    values.update(overrides)
    return ExchangeParams(**values)  # type: ignore[arg-type]


def test_round_trip_and_layout() -> None:
    signer = CursorSigner(KEY)
    cursor = signer.sign(Position(900, 7), **BOUND)
    assert signer.verify(cursor, **BOUND) == Position(900, 7)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    # 8 bytes xid, 8 bytes id, 16 bytes of MAC: 32 bytes, 43 base64url characters without padding.
    assert (len(raw), len(cursor)) == (32, 43)
    assert struct.unpack(">QQ", raw[:16]) == (900, 7)


def test_binder_signs_as_sign_does() -> None:
    signer = CursorSigner(KEY)
    assert signer.binder(**BOUND)(900, 7) == signer.sign(Position(900, 7), **BOUND)


@pytest.mark.parametrize(
    "other",
    [
        {"client": "prov-15"},  # another client's cursor
        {"kind": "tasks"},  # another kind's
        {"region": "140900"},  # another region's
    ],
)
def test_bound_to_client_kind_and_region(other: dict[str, str]) -> None:
    signer = CursorSigner(KEY)
    cursor = signer.sign(Position(900, 7), **BOUND)
    with pytest.raises(BadRequest) as caught:
        signer.verify(cursor, **(BOUND | other))
    assert caught.value.code == "invalid_cursor"


def test_every_tampered_byte_is_refused() -> None:
    signer = CursorSigner(KEY)
    raw = bytearray(base64.urlsafe_b64decode(signer.sign(Position(900, 7), **BOUND) + "="))
    for index in range(len(raw)):
        changed = bytearray(raw)
        changed[index] ^= 0x01
        cursor = base64.urlsafe_b64encode(bytes(changed)).decode().rstrip("=")
        with pytest.raises(BadRequest):
            signer.verify(cursor, **BOUND)


def test_moving_the_position_forward_is_refused() -> None:
    """A client cannot skip ahead (or back) by rewriting the position and keeping the MAC."""
    signer = CursorSigner(KEY)
    raw = base64.urlsafe_b64decode(signer.sign(Position(900, 7), **BOUND) + "=")
    forged = base64.urlsafe_b64encode(struct.pack(">QQ", 901, 7) + raw[16:]).decode().rstrip("=")
    with pytest.raises(BadRequest):
        signer.verify(forged, **BOUND)


@pytest.mark.parametrize("cursor", ["", "x", "!!!!", "a" * 43, "a" * 44, "AAAA"])
def test_garbage_is_refused(cursor: str) -> None:
    with pytest.raises(BadRequest) as caught:
        CursorSigner(KEY).verify(cursor, **BOUND)
    assert caught.value.code == "invalid_cursor"


def test_another_key_does_not_verify() -> None:
    cursor = CursorSigner(KEY).sign(Position(1, 1), **BOUND)
    with pytest.raises(BadRequest):
        CursorSigner(b"z" * 32).verify(cursor, **BOUND)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        CursorSigner(b"short")


def _principal(region: str) -> Principal:
    return Principal(
        subject="prov-14", roles=frozenset({Role.machine_client}), region_code=region, is_client=True
    )


def test_prepare_checks_the_region_and_the_cursor() -> None:
    signer = CursorSigner(KEY)
    province = _principal("140000")
    pull = prepare(province, _params(region="140900"), "data-values", signer)
    assert (pull.region, pull.prefix, pull.after) == ("140900", "1409", Position(0, 0))
    with pytest.raises(NotFound):  # beside the jurisdiction: as if it did not exist
        prepare(province, _params(region="130000"), "data-values", signer)
    with pytest.raises(NotFound):  # above it
        prepare(_principal("140900"), _params(region="140000"), "data-values", signer)
    # A cursor issued for the whole province does not serve a pull of one city.
    cursor = signer.sign(Position(5, 5), client="prov-14", kind="data-values", region="140000")
    assert prepare(province, _params(cursor=cursor), "data-values", signer).after == Position(5, 5)
    with pytest.raises(BadRequest):
        prepare(province, _params(cursor=cursor, region="140900"), "data-values", signer)


def test_end_position_moves_to_the_horizon_never_back() -> None:
    signer = CursorSigner(KEY)
    pull = prepare(_principal("140000"), _params(), "data-values", signer)
    assert end_position(pull, 1000) == Position(999, MAX_ID)
    later = signer.sign(Position(1200, 3), client="prov-14", kind="data-values", region="140000")
    pull = prepare(_principal("140000"), _params(cursor=later), "data-values", signer)
    assert end_position(pull, 1000) == Position(1200, 3)


def test_uuid_positions_round_trip_and_are_checked() -> None:
    """Kinds keyed by UUID (tasks, plans) carry the 16 bytes of the id in the cursor."""
    signer = CursorSigner(KEY)
    task = uuid.UUID("0b4f1c52-8d7e-4a53-9a57-3c0d2f6e9b11")
    cursor = signer.sign(Position(900, task), **BOUND)
    # 8 bytes xid + 16 bytes id + 16 bytes MAC = 40 bytes: 54 base64url characters unpadded.
    assert len(cursor) == 54
    assert signer.verify(cursor, **BOUND, wide=True) == Position(900, task)
    with pytest.raises(BadRequest):  # read as a bigint cursor: the wrong length
        signer.verify(cursor, **BOUND)
    with pytest.raises(BadRequest):
        signer.verify(cursor, **(BOUND | {"kind": "plans"}), wide=True)
    assert Position(900, task) < Position(900, uuid.UUID(int=task.int + 1)) < Position(901, uuid.UUID(int=0))
