"""Tests of threadhost._ops."""
