"""Tests of threadhost._cli."""
