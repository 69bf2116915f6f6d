"""Tests of threadhost._time."""
