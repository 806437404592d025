# The two commands a new user needs (README): `make demo` and `make test`.
# Both set up everything from nothing on Debian / Raspberry Pi OS: the Debian packages of the
# real services (as root, or through sudo), the virtual environment and the Python packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEB_PACKAGES := mosquitto mosquitto-clients socat mbpoll
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint deps venv bench clean sim-docs

demo: deps venv
	$(BIN)/gerbang demo

test: deps venv
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Debian packages: only those missing are installed, so a second run does nothing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv python3-pip"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# The simulators' register-map docs, generated from the model declarations (a test checks them).
sim-docs: venv
	@for m in $$($(BIN)/gerbang sim list | cut -d' ' -f1); do \
		$(BIN)/gerbang sim describe $$m > docs/simulators/$$m.md; done
	$(BIN)/gerbang sim describe all > docs/simulators/README.md
