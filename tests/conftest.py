"""Shared by every test folder: this folder is on sys.path (pytest puts a conftest's folder
there), so tests import the helpers of `clirun` by name."""
