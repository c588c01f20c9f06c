"""Builds jit's optional C accelerator (plax_transforms._fastjit); the metadata is in
pyproject.toml. Without a C compiler the build goes on without it and jit runs in Python."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("plax_transforms._fastjit", ["src/plax_transforms/_fastjit.c"],
                             optional=True)])
