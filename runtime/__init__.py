"""Execution: the ai.analogc function library, sessions, calibration, noisy evaluation."""
