"""Tests of threadhost._hosting."""
