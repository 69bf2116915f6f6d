"""Tests of threadhost._logging."""
