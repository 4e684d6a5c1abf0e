"""Build of the optional C extension; the project's metadata is in pyproject.toml.

``optional=True``: without a compiler the install still succeeds, and
``noai_guard.htmlscan`` uses its pure-Python functions.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("noai_guard._htmlscan", ["noai_guard/_htmlscan.c"], optional=True)])
