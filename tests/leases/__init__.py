"""Tests of threadhost._leases."""
