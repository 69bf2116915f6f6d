"""Tests of threadhost._building."""
