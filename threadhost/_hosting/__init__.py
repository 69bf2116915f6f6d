"""The kernel: hosted-service contracts, the host's lifecycle states, the start and stop
plans and the one runner that carries them out, the stop's budget, the slots that account
for every service thread, the application lifetime, supervision, options and the report.

It imports only ``_time`` and the leaf modules; everything else (ready-made services,
leases, health, signals, configuration, logging, the builder) sits above it and plugs in
through the hooks it offers."""
