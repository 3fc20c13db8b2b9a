"""The entry kinds of the integration, one sub-package each."""
