"""Device tokens: shown once, stored as a hash, refused after revocation, re-issued on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlway.core.errors import InputError, NotFoundError
from mlway.hub import HubStore
from mlway.hub.errors import UnauthorizedError


@pytest.fixture
def store(tmp_path: Path) -> HubStore:
    return HubStore.open(tmp_path / "hub.db")


def test_the_token_authenticates_its_device_and_is_never_stored(store: HubStore) -> None:
    token = store.add_device("combine-07")
    other = store.add_device("combine-08")
    assert len(token) >= 40
    assert token != other
    assert store.authenticate(token) == "combine-07"
    store.close()
    for file in store.path.parent.glob("hub.db*"):
        assert token.encode() not in file.read_bytes()


def test_an_unknown_token_is_refused_with_the_command_that_makes_one(store: HubStore) -> None:
    store.add_device("combine-07")
    with pytest.raises(UnauthorizedError, match="unknown device token") as info:
        store.authenticate("not-a-token")
    assert "mlway hub device add" in str(info.value)


def test_a_revoked_token_is_refused_and_a_new_one_can_be_issued(store: HubStore) -> None:
    old = store.add_device("combine-07")
    store.revoke_device("combine-07")
    with pytest.raises(UnauthorizedError, match="'combine-07' was revoked"):
        store.authenticate(old)
    new = store.add_device("combine-07")
    assert store.authenticate(new) == "combine-07"
    with pytest.raises(UnauthorizedError):
        store.authenticate(old)


def test_adding_an_active_device_again_says_to_revoke_first(store: HubStore) -> None:
    store.add_device("combine-07")
    with pytest.raises(InputError, match="already exists") as info:
        store.add_device("combine-07")
    assert "mlway hub device revoke combine-07" in str(info.value)


@pytest.mark.parametrize("name", ["", "-lead", "has space", "x" * 64, "ümlaut"])
def test_invalid_device_names_are_refused_with_the_rule(store: HubStore, name: str) -> None:
    with pytest.raises(InputError, match="invalid device name"):
        store.add_device(name)


def test_revoking_an_unknown_device_lists_the_known_ones(store: HubStore) -> None:
    store.add_device("combine-07")
    with pytest.raises(NotFoundError, match="combine-99") as info:
        store.revoke_device("combine-99")
    assert "combine-07" in str(info.value)
    assert [d.device_id for d in store.devices()] == ["combine-07"]
