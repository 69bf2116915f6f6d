"""The Lease contract's pieces in the core: LeaseInfo, current_lease(), binding at build()."""

from __future__ import annotations

import dataclasses

import pytest

import threadhost as th
from tests._leases import InMemoryLease, LeaseTable
from threadhost._leases.lease import bind_leases


def test_lease_info_is_a_frozen_value() -> None:
    info = th.LeaseInfo(name="nightly", holder="web-1:42", fencing=7)
    assert info == th.LeaseInfo("nightly", "web-1:42", 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.fencing = 8  # type: ignore[misc]


def test_current_lease_is_none_on_a_thread_that_holds_none() -> None:
    assert th.current_lease() is None


def test_bind_leases_names_each_lease_after_its_service_by_default() -> None:
    table = LeaseTable()
    first, second = InMemoryLease(table), InMemoryLease(table, "shared-name")
    bind_leases([("Cleanup", first), ("Report", second)])
    assert (first.name, second.name) == ("Cleanup", "shared-name")


def test_two_services_with_one_lease_name_fail_naming_both() -> None:
    table = LeaseTable()
    with pytest.raises(th.ConfigurationError,
                       match=r"^Services 'Cleanup' and 'Report' both use the lease 'nightly': "):
        bind_leases([("Cleanup", InMemoryLease(table, "nightly")),
                     ("Report", InMemoryLease(table, "nightly"))])


def test_a_lease_that_rejects_its_settings_fails_binding() -> None:
    with pytest.raises(th.ConfigurationError, match=r"check_interval=0 is invalid"):
        bind_leases([("Cleanup", InMemoryLease(LeaseTable(), check_interval=0))])
