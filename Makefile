PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := data/demo.db
DEMO_PORT ?= 8010

.PHONY: install test crash demo crawl bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py glossary_spider/extraction/_tree.pyx
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "glossary_spider needs Python 3.11 or newer " \
		"(its regular expressions are possessive): make PYTHON=python3.11 (or newer)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,browse,server]'
	touch $(STAMP)

# Four workers, one test file each at a time: most tests wait on a crawler and a server, so on two cores
# three workers left a fifth of the CPU idle (6:17), and six kept both cores busy throughout (5:10 to
# 5:40) but gave each test a third of a core, too little for the tests that stop a crawl at a moment.
# The longest files are handed out first (tests/conftest.py's LONGEST_FIRST); pytest-xdist would hand
# out the files with the most tests first, and leave the few long ones for last.
# Bytecode first: where PYTHONDONTWRITEBYTECODE is set (CI images set it), every command the tests start
# compiled the project's modules again, a tenth of a second of CPU each, a minute over the suite.
test: install
	$(BIN)/python -m compileall -q glossary_spider
	$(BIN)/python -m pytest -q -n 4 --dist loadfile --no-loadscope-reorder

# kill -9 at 10 seeded moments of each of crawl, refresh and reparse (make test tries 2); CRASH_POINTS=30 for more.
CRASH_POINTS ?= 10
crash: install
	CRASH_POINTS=$(CRASH_POINTS) $(BIN)/python -m pytest -q -s tests/test_crash.py

demo: install
	$(BIN)/python -m glossary_spider.demo --db $(DEMO_DB) --port $(DEMO_PORT)

crawl: install
	$(BIN)/glossary crawl --db data/glossary.db

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

# Bytecode first, as for the tests: every command the benchmark times would otherwise compile the project again.
bench: install
	$(BIN)/python -m compileall -q glossary_spider
	$(BIN)/python benchmarks/bench.py
