"""Leased singleton services: the ``Lease`` contract, the lease-driving loop, and the
adapter hosted service the builder registers for a ``singleton=`` service. The kernel knows
nothing of leases."""
