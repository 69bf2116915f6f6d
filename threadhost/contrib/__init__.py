"""Integrations with other frameworks (``threadhost.contrib.django``)."""
