# The two commands a new user needs (README): `make demo` and `make test`.
# Both set up everything from nothing on Debian / Raspberry Pi OS: the Debian packages of the
# real services (as root, or through sudo), the virtual environment and the Python packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What the demo needs (a broker and its command-line clients), and what the tests start besides:
# serial lines over socat ptys, mbpoll, InfluxDB 1.x, victoria-metrics (the v2 write API),
# systemd-analyze and shellcheck for the deploy checks; chromium for the web page's browser tests
# (driven by Playwright, never a browser downloaded by `playwright install`); node and npm for the node-opcua server
# (Debian's nodejs only where no node is installed).
DEB_PACKAGES := mosquitto mosquitto-clients
TEST_DEB_PACKAGES := $(DEB_PACKAGES) socat mbpoll influxdb victoria-metrics systemd shellcheck chromium python3-venv curl \
	$(shell command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || echo nodejs npm)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint deps test-deps venv bench clean sim-docs screenshots

demo: deps venv
	$(BIN)/gerbang demo

# Two workers, one test module each at a time (module fixtures are shared within a module):
# most tests wait on real servers, so one worker kept 2 cores 30 % busy and took 13 minutes;
# two take 7. Every test is load-proof for it (a busy CI box runs it so).
test: test-deps venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

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
	$(BIN)/python bench/modbus_scale.py --devices 50 --interval 100ms --pin
	$(BIN)/python bench/modbus_scale.py --devices 500 --interval 1s --servers 4 --pin
	$(BIN)/python bench/modbus_scale.py --devices 20 --interval 100ms --mode per_signal --pin
	$(BIN)/python bench/scaling_curve.py --devices 1,10,100,500 --interval 100ms
	$(BIN)/python bench/side_by_side.py
	$(BIN)/python bench/opcua_subscriptions.py --items 1000
	$(BIN)/python bench/opcua_subscriptions.py --items 5000 --server node-opcua
	$(BIN)/python bench/modbus_scale.py --devices 50 --signals 10 --interval 1s --pin --name idle-and-start
	$(BIN)/python bench/modbus_scale.py --devices 50 --interval 1s --pin --name idle-and-start-100
	$(BIN)/python bench/outage_drain.py --healthy 30 --outage 60 --name outage-1k
	$(BIN)/python bench/outage_drain.py --healthy 10 --outage 600 --interval 100ms --name outage-10k
	$(BIN)/python bench/sim_cpu.py
	$(BIN)/python bench/web_trends.py --devices 10 --signals 100

# The README's screenshots of the web page, taken by its browser tests.
screenshots: test-deps venv
	GERBANG_SCREENSHOTS=1 $(BIN)/pytest -q tests/integration/test_web.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# The simulators' register-map docs, generated from the model declarations (a test checks them).
sim-docs: venv
	@for m in $$($(BIN)/gerbang sim list | cut -d' ' -f1); do \
		$(BIN)/gerbang sim describe $$m > docs/simulators/$$m.md; done
	$(BIN)/gerbang sim describe all > docs/simulators/README.md
