"""Packaging glue: each top-level part keeps its own ``reemploi.<part>`` tree.

The project is one distribution whose namespace package ``reemploi`` is spread over the
folders ``core/``, ``server/``, ``gateway/`` and ``provisioning/``; everything else is in
``pyproject.toml``.
"""

from setuptools import find_namespace_packages, setup

ROOTS = ("core", "server", "gateway", "provisioning")

packages: list[str] = []
package_dir: dict[str, str] = {}
for root in ROOTS:
    for name in find_namespace_packages(root, include=["reemploi.*"]):
        if "__pycache__" in name:
            continue
        packages.append(name)
        package_dir[name] = root + "/" + name.replace(".", "/")

setup(packages=packages, package_dir=package_dir)
