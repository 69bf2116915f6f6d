from __future__ import annotations

import threadhost
import threadhost.testing


def test_all_is_sorted_and_names_every_public_export() -> None:
    public = {n for n in dir(threadhost) if not n.startswith("_")
              and not isinstance(getattr(threadhost, n), type(threadhost))}
    public -= {"annotations"}
    assert threadhost.__all__ == sorted(threadhost.__all__)
    assert set(threadhost.__all__) == public


def test_public_classes_report_the_package_as_their_module() -> None:
    for name in threadhost.__all__:
        obj = getattr(threadhost, name)
        if isinstance(obj, type):
            assert obj.__module__ == "threadhost", name


def test_testing_module_exports_are_sorted_and_report_their_module() -> None:
    assert threadhost.testing.__all__ == sorted(threadhost.testing.__all__)
    for name in threadhost.testing.__all__:
        assert getattr(threadhost.testing, name).__module__ == "threadhost.testing", name
