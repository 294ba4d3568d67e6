"""Only the build step pyproject.toml cannot say: copy the repository's top-level folders
(filebeat/, prometheus/, grafana/, notebooks/, pipelines/) into the wheel as logkit/data/<folder>.

They stay real folders in the repository — one copy — and logkit.data.path() finds them either
in the installed package or, for an editable install, in the checkout. The folder list and file
patterns come from logkit/data/__init__.py so the build and the accessor agree.
"""
import ast
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py

ROOT = Path(__file__).resolve().parent


def shipped_folders() -> dict:
    # Read the literal from the source rather than importing logkit (its dependencies may not be
    # installed in the build environment).
    tree = ast.parse((ROOT / "logkit" / "data" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "SHIPPED_FOLDERS":
            return ast.literal_eval(node.value)
    raise RuntimeError("SHIPPED_FOLDERS not found in logkit/data/__init__.py")


class build_py(_build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders directly
        for folder, patterns in shipped_folders().items():
            for pattern in patterns:
                for src in sorted((ROOT / folder).glob(pattern)):
                    if src.is_file():
                        dest = Path(self.build_lib) / "logkit" / "data" / folder / src.relative_to(ROOT / folder)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(src, dest)


setup(cmdclass={"build_py": build_py})
