"""Operations: health and readiness, the HTTP probe endpoint, Prometheus metrics."""
