"""Tests of threadhost._config."""
