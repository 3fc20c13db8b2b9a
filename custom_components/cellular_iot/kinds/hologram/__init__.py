"""The Hologram account kind."""
