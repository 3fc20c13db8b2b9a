"""The monoZ account kind."""
