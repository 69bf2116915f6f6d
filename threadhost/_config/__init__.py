"""Layered configuration: sources, the command line, JSON settings, binding to dataclasses."""
