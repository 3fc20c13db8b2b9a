"""The emnify account kind."""
