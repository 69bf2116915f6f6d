"""Ready-made services built on the kernel: periodic work and the task queue."""
