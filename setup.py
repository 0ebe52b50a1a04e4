"""Packaging for transfer_tutorial: every value comes from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

here = Path(__file__).parent
config = ConfigParser(delimiters=["="])
config.read(here / "settings.ini", encoding="utf-8")
cfg = config["DEFAULT"]

for key in "version description keywords author author_email license min_python lib_name user git_url".split():
    if key not in cfg:
        raise SystemExit(f"settings.ini is missing `{key}`")

spdx_licenses = {"apache2": "Apache-2.0", "mit": "MIT"}
statuses = ["1 - Planning", "2 - Pre-Alpha", "3 - Alpha", "4 - Beta", "5 - Production/Stable", "6 - Mature", "7 - Inactive"]
py_versions = "3.10 3.11 3.12 3.13".split()
min_python = cfg["min_python"]

requirements = cfg.get("requirements", "").split()
dev_requirements = cfg.get("dev_requirements", "").split()
demo_requirements = cfg.get("demo_requirements", "").split()
console_scripts = [line.strip() for line in cfg.get("console_scripts", "").splitlines() if line.strip()]

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    license=spdx_licenses.get(cfg["license"], cfg["license"]),
    description=cfg["description"],
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    keywords=cfg["keywords"],
    author=cfg["author"],
    author_email=cfg["author_email"],
    url=cfg["git_url"],
    classifiers=[
        f"Development Status :: {statuses[int(cfg['status'])]}",
        f"Intended Audience :: {cfg['audience'].title()}",
        "Natural Language :: " + cfg["language"].title(),
    ]
    + [f"Programming Language :: Python :: {v}" for v in py_versions[py_versions.index(min_python):]],
    packages=setuptools.find_packages(include=[cfg["lib_name"], cfg["lib_name"] + ".*"]),
    include_package_data=True,
    python_requires=f">={min_python}",
    install_requires=requirements,
    extras_require={"dev": dev_requirements, "demo": demo_requirements},
    entry_points={
        "console_scripts": console_scripts,
        # lets nbdev find this library's doc index (_modidx.py) from other projects
        "nbdev": [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"],
    },
    zip_safe=False,
)
