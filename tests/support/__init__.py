"""Test helpers that run real parts (Prometheus, ...) on 127.0.0.1."""
