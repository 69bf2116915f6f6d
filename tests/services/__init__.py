"""Tests of threadhost._services."""
