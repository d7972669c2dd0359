# scrapyd-deploy builds its egg with `python setup.py bdist_egg`; everything else is in pyproject.toml.
import compileall

from setuptools import setup
from setuptools.command.bdist_egg import bdist_egg


class EggWithBytecode(bdist_egg):
    """An egg with each module's bytecode beside its source, where zipimport looks for it (it reads no
    ``__pycache__``): otherwise every Scrapyd job compiles the project's modules again as it starts."""

    def call_command(self, cmdname, **kw):
        command = super().call_command(cmdname, **kw)
        if cmdname == "install_lib":
            compileall.compile_dir(self.bdist_dir, legacy=True, quiet=1)
        return command


setup(cmdclass={"bdist_egg": EggWithBytecode})
