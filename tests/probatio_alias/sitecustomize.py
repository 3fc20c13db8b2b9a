"""Alias ``voluptuous`` to probatio before anything imports it, as HA 2026.9+ does.

Home Assistant 2026.9 and later call ``probatio.compat.install_as_voluptuous()`` at
the top of ``homeassistant/__init__.py``, so every ``import voluptuous`` after that
(ours, HA's, the libraries') gets probatio's shim. Putting this directory on
``PYTHONPATH`` does the same for the test run on HAs that predate the switch: Python
imports ``sitecustomize`` at start-up, before pytest or Home Assistant are imported.
``tests/conftest.py`` checks that the alias really took effect when
``CELLULAR_IOT_EXPECT_PROBATIO=1``, so this leg cannot silently test voluptuous.
"""

from probatio.compat import install_as_voluptuous

install_as_voluptuous()
