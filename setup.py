# Everything but the compiled extraction module is in pyproject.toml; scrapyd-deploy builds its egg
# with `python setup.py bdist_egg`.
import compileall

import lxml
from setuptools import Extension, setup
from setuptools.command.bdist_egg import bdist_egg

# Reads lxml's trees at the C level (lxml's public C API and libxml2's node structures, whose headers lxml
# ships). Optional: without a C compiler the project installs all the same, and extraction runs its
# pure-Python equivalent (``glossary_spider.extraction.tree``).
TREE = Extension("glossary_spider.extraction._tree", ["glossary_spider/extraction/_tree.pyx"],
                 include_dirs=lxml.get_include(), optional=True)


class EggWithBytecode(bdist_egg):
    """An egg with each module's bytecode beside its source, where zipimport looks for it (it reads no
    ``__pycache__``): otherwise every Scrapyd job compiles the project's modules again as it starts.
    It carries no compiled module: zipimport cannot load one, and a job extracts with the pure-Python
    code (a polite crawl spends little of its time extracting)."""

    def run(self):
        self.distribution.ext_modules = []
        return super().run()

    def call_command(self, cmdname, **kw):
        command = super().call_command(cmdname, **kw)
        if cmdname == "install_lib":
            compileall.compile_dir(self.bdist_dir, legacy=True, quiet=1)
        return command


setup(ext_modules=[TREE], cmdclass={"bdist_egg": EggWithBytecode})
