# sintgate developer targets. `make help` lists them.
#
#   make run            build and start a gateway on an embedded store (./.sintgate)
#   make test           start the real services (installing what is missing), lint the OpenAPI
#                       document, run every test
#   make ros2bridge     build bin/sint-ros2bridge (cgo + Cyclone DDS; every other binary is CGO_ENABLED=0)
#   make test-ros2      the ROS 2 bridge's tests under -race (make test runs them)
#   make test-sdk-python  the Python SDK's suite against a gateway it builds and starts
#   make test-sdk-js    the TypeScript/JavaScript SDK suite against a real gateway (npm ci when needed)
#   make lint           gofmt, go vet, staticcheck
#   make fuzz           every Fuzz target for FUZZTIME (default 10s) each
#   make bench          every benchmark, BENCHTIME (default 1s) each

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO                  ?= go
BIN                 := bin
DATA_DIR            ?= .sintgate
LISTEN              ?= 127.0.0.1:8080
SERVICES            := scripts/services.sh
STATICCHECK_VERSION ?= v0.8.2
FUZZTIME            ?= 10s
BENCHTIME           ?= 1s
PKGS                ?= ./...
SYS_PY              ?= /usr/bin/python3
E2E_DIR             := dashboard/e2e
SDK_JS_DIR          := sdk/js
OPENAPI_DIR         := tools/openapi

# The ROS 2 bridge is the only cgo code (Cyclone DDS, libddsc): its packages
# are built and tested apart, with CGO_ENABLED=1; every other binary is
# built with CGO_ENABLED=0.
ROS2_PKGS           := ./bridges/ros2bridge/... ./cmd/sint-ros2bridge
ROS2_EXCLUDE        := -e '/bridges/ros2bridge' -e '/cmd/sint-ros2bridge$$'

# Every .go file of the repo except vendored/installed trees.
GO_FILES = $(shell find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -not -path './.services/*' -not -path './$(BIN)/*')

.PHONY: help build ros2bridge test-ros2 run test test-go test-e2e test-sdk-python test-sdk-js lint-openapi bench lint fmt-check vet staticcheck shellcheck fuzz \
	services-up services-down services-purge services-env services-status clean

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build every binary of cmd/ into ./bin (CGO_ENABLED=0; sint-ros2bridge with cgo: make ros2bridge)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ $$($(GO) list ./cmd/... | grep -v $(ROS2_EXCLUDE))
	@$(MAKE) --no-print-directory ros2bridge

ros2bridge: ## build bin/sint-ros2bridge with cgo against Cyclone DDS (libddsc; scripts/services.sh installs it)
	@mkdir -p $(BIN)
	CGO_ENABLED=1 $(GO) build -o $(BIN)/sint-ros2bridge ./cmd/sint-ros2bridge

test-ros2: ## the ROS 2 bridge's tests (cgo, Cyclone DDS and the Fast DDS peers) under -race
	@eval "$$($(SERVICES) env)"; CGO_ENABLED=1 $(GO) test -race -count=1 $(ROS2_PKGS)

run: ## build, init ./.sintgate on first start (prints the admin key), serve
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/sint-gateway ./cmd/sint-gateway
	$(GO) build -o $(BIN)/sintctl ./cmd/sintctl
	@if [ ! -d "$(DATA_DIR)" ]; then \
		echo "== first start: initialising $(DATA_DIR) (the admin API key below is shown only once)"; \
		$(BIN)/sint-gateway init --data-dir "$(DATA_DIR)"; \
	fi
	@echo
	@echo "== in another terminal:"
	@echo "   export SINT_URL=http://$(LISTEN) SINT_API_KEY=sk_...   # the admin key printed by init"
	@echo "   $(BIN)/sintctl estop status"
	@echo "   $(BIN)/sintctl --help"
	@echo
	exec $(BIN)/sint-gateway serve --data-dir "$(DATA_DIR)" --listen "$(LISTEN)"

test: ## start services, lint the OpenAPI document, run all Go tests with -race, the SDK suites, then browser tests
	@t0=$$(date +%s); \
	$(SERVICES) up; \
	eval "$$($(SERVICES) env)"; \
	t1=$$(date +%s); echo "== services ready in $$((t1 - t0)) s"; \
	(cd $(OPENAPI_DIR) && npm run -s lint); \
	pkgs="$$($(GO) list $(PKGS) | grep -v $(ROS2_EXCLUDE) || true)"; \
	ros2="$$($(GO) list $(PKGS) | grep $(ROS2_EXCLUDE) || true)"; \
	if [ -n "$$pkgs" ]; then $(GO) test -race -count=1 $$pkgs; fi; \
	if [ -n "$$ros2" ]; then CGO_ENABLED=1 $(GO) test -race -count=1 $$ros2; fi; \
	t2=$$(date +%s); echo "== go test in $$((t2 - t1)) s"; \
	$(MAKE) --no-print-directory test-sdk-python; \
	$(MAKE) --no-print-directory test-sdk-js; \
	t3=$$(date +%s); \
	if [ -f $(E2E_DIR)/package.json ]; then \
		(cd $(E2E_DIR) && npm test); \
		echo "== browser tests in $$(( $$(date +%s) - t3 )) s"; \
	else \
		echo "== no $(E2E_DIR)/package.json: no browser tests"; \
	fi

test-sdk-python: ## Python SDK tests (sdk/python): unit tests, then a gateway built here on a free port
	@$(SERVICES) pydeps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/sint-gateway ./cmd/sint-gateway
	$(GO) build -o $(BIN)/sintctl ./cmd/sintctl
	@t0=$$(date +%s); \
	cd sdk/python && CI=true PYTHONDONTWRITEBYTECODE=1 \
		SINT_TEST_GATEWAY_BIN="$(CURDIR)/$(BIN)/sint-gateway" SINT_TEST_SINTCTL_BIN="$(CURDIR)/$(BIN)/sintctl" \
		$(SYS_PY) -m pytest -q -p no:cacheprovider; \
	echo "== python SDK tests in $$(( $$(date +%s) - t0 )) s"

test-go: ## Go tests only (services must be up: make services-up)
	@eval "$$($(SERVICES) env)"; $(GO) test -race -count=1 $(PKGS)

lint-openapi: ## Redocly lint of gateway/server/openapi.json (0 errors, 0 warnings; tools/openapi)
	@$(SERVICES) up openapi; cd $(OPENAPI_DIR) && npm run -s lint

test-e2e: ## browser tests only (dashboard/e2e)
	@$(SERVICES) up chromium; eval "$$($(SERVICES) env chromium)"; cd $(E2E_DIR) && npm test

test-sdk-js: ## the TypeScript/JavaScript SDK suite (sdk/js, node --test) against a real gateway and sintctl
	@command -v node >/dev/null && command -v npm >/dev/null || \
		{ echo "sdk/js needs Node >= 20 and npm (apt-get install nodejs npm)"; exit 1; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || \
		{ echo "sdk/js needs Node >= 20 (WebCrypto Ed25519); found $$(node --version)"; exit 1; }
	@mkdir -p $(BIN)/race
	$(GO) build -race -o $(BIN)/race/sint-gateway ./cmd/sint-gateway
	$(GO) build -race -o $(BIN)/race/sintctl ./cmd/sintctl
	@cd $(SDK_JS_DIR); stamp=node_modules/.package-lock.json; \
	if [ ! -f "$$stamp" ] || [ package-lock.json -nt "$$stamp" ] || [ package.json -nt "$$stamp" ]; then \
		echo "== npm ci in $(SDK_JS_DIR)"; \
		npm_config_fund=false npm_config_audit=false npm ci --no-progress --loglevel=error; \
	fi
	@t0=$$(date +%s); \
	(cd $(SDK_JS_DIR) && SINT_GATEWAY_BIN="$(CURDIR)/$(BIN)/race/sint-gateway" SINTCTL_BIN="$(CURDIR)/$(BIN)/race/sintctl" npm test --silent); \
	echo "== sdk/js tests in $$(( $$(date +%s) - t0 )) s"

bench: ## run every benchmark (BENCHTIME=1s), services up for store benchmarks
	@$(SERVICES) up pg redis; \
	eval "$$($(SERVICES) env)"; \
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) $(PKGS)

lint: fmt-check vet staticcheck shellcheck ## gofmt check, go vet, staticcheck, shellcheck (if installed)

fmt-check:
	@out="$$(gofmt -l $(GO_FILES))"; \
	if [ -n "$$out" ]; then echo "gofmt -w needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck: ## staticcheck (pinned, fetched from the Go module proxy)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

shellcheck:
	@if command -v shellcheck >/dev/null; then shellcheck -x scripts/*.sh .ci/run; \
	else echo "shellcheck not installed (apt-get install shellcheck): skipped"; fi

fuzz: ## run every Fuzz target for FUZZTIME each (one package at a time)
	@eval "$$($(SERVICES) env)"; \
	failed=""; n=0; \
	for pkg in $$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' $(PKGS)); do \
		if ! listed="$$($(GO) test -list '^Fuzz' "$$pkg")"; then \
			echo "$$listed"; failed="$$failed $$pkg(build)"; continue; \
		fi; \
		for f in $$(grep '^Fuzz' <<<"$$listed" || true); do \
			n=$$((n + 1)); \
			echo "== $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) "$$pkg" || failed="$$failed $$pkg.$$f"; \
		done; \
	done; \
	echo "== $$n fuzz targets run"; \
	if [ -n "$$failed" ]; then echo "== FAILED:$$failed"; exit 1; fi

services-up: ## install (if missing) and start every service (or SVC="pg redis")
	$(SERVICES) up $(SVC)

services-down: ## stop the services (data kept under .services/)
	$(SERVICES) down $(SVC)

services-purge: ## stop the services and delete .services/
	$(SERVICES) down --purge $(SVC)

services-env: ## print the export lines for the services
	@$(SERVICES) env $(SVC)

services-status: ## tell which services answer
	@$(SERVICES) status $(SVC)

clean: ## remove ./bin
	rm -rf $(BIN)
