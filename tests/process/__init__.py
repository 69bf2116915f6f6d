"""Tests of threadhost._process."""
