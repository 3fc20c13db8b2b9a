"""The on-device listener kind."""
