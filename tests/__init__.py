"""threadhost's tests; each package mirrors one of threadhost's."""
