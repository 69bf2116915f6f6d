from __future__ import annotations

import threadhost


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
