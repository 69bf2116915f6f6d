"""Building a host: the builder, the ``Host`` facade, the service collection, autowiring,
scopes and configuration reload."""
