# The two commands a new user needs (README): `make demo` and `make test`.
# Both set up everything from nothing on Debian / Raspberry Pi OS: the Debian packages of the
# real services (as root, or through sudo), the virtual environment and the Python packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What the demo needs (a broker and its command-line clients), and what the tests start besides:
# serial lines over socat ptys, mbpoll, InfluxDB 1.x and victoria-metrics (the v2 write API),
# systemd (systemd-analyze for the unit's tests), python3-venv (the installer's tests) and
# shellcheck (the deploy scripts' test).
DEB_PACKAGES := mosquitto mosquitto-clients
TEST_DEB_PACKAGES := $(DEB_PACKAGES) socat mbpoll influxdb victoria-metrics systemd python3-venv shellcheck
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint deps test-deps venv bench clean

demo: deps venv
	$(BIN)/gerbang demo

test: test-deps venv
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Debian packages: only those missing are installed, so a second run does nothing.
define install_debs
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv python3-pip"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_debs,$(DEB_PACKAGES))

test-deps:
	$(call install_debs,$(TEST_DEB_PACKAGES))

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Benchmarks print figures and write bench/results/*.json; they are not tests.
bench: test-deps venv
	$(BIN)/python bench/outage_drain.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
