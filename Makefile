# locust-k8s-operator — every command a developer or CI needs.
SHELL := /bin/bash
CARGO ?= cargo
# Integration tests at once. Measured on 2 cores: 126 tests took 505 s at 4 threads and
# about as long at 2 (the control planes, operators and Locust share the cores), so 2.
TEST_THREADS ?= 2
BIN := target/debug/locust-k8s-operator
K8S_BIN_DIR ?= $(CURDIR)/target/k8s-bin
export K8S_BIN_DIR
# Where cargo puts its builds ($CARGO_TARGET_DIR if set).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
RELEASE_BIN := $(TARGET_DIR)/release/locust-k8s-operator
# Extra arguments, e.g. `make bench BENCH_ARGS="--sizes 100 --runs 1"`.
BENCH_ARGS ?=
CHAOS_ARGS ?=

.PHONY: help build build-release test test-unit test-integration lint fmt crd check-generated locust \
        cluster-bins cluster-up cluster-down demo run clean bench chaos chaos-short \
        e2e e2e-bins e2e-images e2e-cluster-up e2e-cluster-down e2e-roundtrip

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## Build the operator binary (debug)
	$(CARGO) build --bin locust-k8s-operator

build-release: ## Build the operator binary (release)
	$(CARGO) build --release --bin locust-k8s-operator

crd: build ## Regenerate the committed CRD (crd/locusttests.locust.io.yaml)
	$(BIN) crd > crd/locusttests.locust.io.yaml

fmt: ## Format the code
	$(CARGO) fmt --all

lint: deny ## rustfmt check, clippy and rustdoc with warnings denied (lints: [workspace.lints] in Cargo.toml), cargo deny
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

# cargo-deny from crates.io, built once into ~/.cache/locust-k8s-operator (scripts/cargo-tool.sh;
# ~10 min cold on 2 cores, instant after).
CARGO_DENY_VERSION := 0.20.2
.PHONY: deny deny-advisories
deny: ## cargo deny check licenses bans sources (deny.toml): allowed licenses, duplicate versions (warnings), crates.io only
	d="$$(scripts/cargo-tool.sh cargo-deny $(CARGO_DENY_VERSION))" && "$$d/cargo-deny" deny check licenses bans sources

deny-advisories: ## cargo deny check advisories: needs the RustSec database from GitHub (not reachable from CI here)
	d="$$(scripts/cargo-tool.sh cargo-deny $(CARGO_DENY_VERSION))" && "$$d/cargo-deny" deny check advisories

# ---- User documentation (docs/: mdBook; tools/repo-gen checks links, generates the API reference) ----
# mdBook from crates.io, built once into ~/.cache/locust-k8s-operator (scripts/cargo-tool.sh;
# ~10 min cold on a busy 2-core machine, instant after). No `serve`/`watch`: fewer crates.
MDBOOK_VERSION := 0.5.4
MDBOOK_FEATURES := --no-default-features --features search
.PHONY: docs docs-check api-docs
docs: ## Build the user documentation (docs/book.toml, docs/src/) with mdBook into target/book
	d="$$(scripts/cargo-tool.sh mdbook $(MDBOOK_VERSION) $(MDBOOK_FEATURES))" && "$$d/mdbook" build docs

docs-check: docs ## Fail on any broken internal link or anchor of target/book (or link to a missing repository file); list external links
	$(CARGO) run -q -p repo-gen -- links target/book

api-docs: ## Regenerate the book's API reference (docs/src/api/) from crd/ (a test fails when it is stale)
	$(CARGO) run -q -p repo-gen -- api-docs

cluster-bins: ## Build etcd, kube-*, kubectl, kwok, helm, the OTel Collector, kstatus, Prometheus and promtool from Go modules (cached by version)
	tests/cluster/build.sh

test-unit: ## Unit, snapshot and property tests (no cluster)
	$(CARGO) test --workspace --lib --bins
	$(CARGO) test --test integration cli::
	$(CARGO) test -p olm-bundle --test bundle --test metadata
	$(CARGO) test -p repo-gen --lib --test changelog --test project_files --test chart_docs --test book --test release

test-integration: cluster-bins locust olm-bins ## Integration tests against a real local control plane
	$(CARGO) test --workspace --tests -- --test-threads=$(TEST_THREADS)

locust: ## Install the pinned Locust from PyPI into a cached venv (for the real-Locust tests)
	tests/locust/install.sh > /dev/null

test: lint docs-check cluster-bins locust olm-bins ## Everything CI runs: lint, the book and its links, unit and integration tests
	$(CARGO) test --workspace --all-targets

cluster-up: cluster-bins ## Start a local control plane with kwok nodes (kubeconfig: target/cluster/kubeconfig)
	$(CARGO) run -q -p test-cluster -- up --dir target/cluster

cluster-down: ## Stop the local control plane started by cluster-up
	$(CARGO) run -q -p test-cluster -- down --dir target/cluster

demo: ## Bring up the local cluster, run a LocustTest through its phases, tear down (REAL=1: on a real node, needs root)
	$(if $(filter 1,$(REAL)),scripts/demo-real.sh,scripts/demo.sh)

# ---- Real node (tests/e2e/, docs/e2e.md): kubelet, containerd, kube-proxy, CoreDNS; root ----
e2e-bins: cluster-bins ## Build kubelet, kube-proxy, containerd, CoreDNS from Go modules (cached by version)
	tests/e2e/build.sh

e2e-images: ## Build the images (operator, Locust, Collector, pause) as docker archives (cached); print them
	tests/e2e/images.sh

e2e-cluster-up: e2e-bins ## Start a real node joined to a local control plane (KUBECONFIG=target/e2e/cluster/kubeconfig)
	$(CARGO) build -q -p test-cluster
	tests/e2e/node.sh up

e2e-cluster-down: ## Stop the real node and restore the host as e2e-cluster-up found it
	tests/e2e/node.sh down

e2e: e2e-bins ## helm install the chart on a real node and run tests/e2e.rs with real Locust; host restored
	tests/e2e/run.sh

e2e-roundtrip: e2e-bins ## Bring the real node up and down twice; fail if the host state differs
	$(CARGO) build -q -p test-cluster
	tests/e2e/roundtrip.sh

clean: cluster-down
	$(CARGO) clean

bench: cluster-bins ## Benchmarks against the local control plane, release build (target/bench/results.{json,md})
	command -v wrk >/dev/null || { echo "make bench needs wrk (apt-get install wrk)" >&2; exit 1; }
	$(CARGO) build --release --bin locust-k8s-operator
	$(CARGO) run --release -q -p locust-bench --bin bench -- --operator $(RELEASE_BIN) --out target/bench $(BENCH_ARGS)

chaos: cluster-bins ## Fault injection against the local control plane, release build (target/bench/chaos.json)
	$(CARGO) build --release --bin locust-k8s-operator
	$(CARGO) run --release -q -p locust-bench --bin chaos -- --operator $(RELEASE_BIN) --out target/bench $(CHAOS_ARGS)

chaos-short: ## The short fault-injection run CI does (debug build)
	$(CARGO) build --bin locust-k8s-operator
	$(CARGO) run -q -p locust-bench --bin chaos -- --operator $(TARGET_DIR)/debug/locust-k8s-operator --out target/bench --short $(CHAOS_ARGS)

run: build ## Run the operator in the foreground against the local cluster (make cluster-up first)
	KUBECONFIG=$(CURDIR)/target/cluster/kubeconfig LOG_FORMAT=text WEBHOOK_MODE=local $(BIN) run --leader-elect=false

# --- Helm chart (charts/locust-k8s-operator) ---------------------------------------------
CHART_DIR := charts/locust-k8s-operator
HELM ?= $(K8S_BIN_DIR)/helm

.PHONY: chart chart-lint
chart: ## Copy the CRD, config/rbac, the alerting rules and the Grafana dashboard into the chart; version, image and repository URLs from Cargo.toml (a test fails when stale)
	mkdir -p $(CHART_DIR)/files/crd $(CHART_DIR)/files/rbac
	cp crd/locusttests.locust.io.yaml $(CHART_DIR)/files/crd/
	rm -f $(CHART_DIR)/files/rbac/*.yaml && cp config/rbac/*.yaml $(CHART_DIR)/files/rbac/
	mkdir -p $(CHART_DIR)/files/prometheus $(CHART_DIR)/files/grafana
	cp config/prometheus/rules.yaml $(CHART_DIR)/files/prometheus/
	cp config/grafana/locust-k8s-operator.json $(CHART_DIR)/files/grafana/
	eval "$$(scripts/release/env.sh)" && \
	  raw="$${REPOSITORY/https:\/\/github.com\//https://raw.githubusercontent.com/}" && \
	  sed -i -e "s/^version: .*/version: $$VERSION/" -e "s/^appVersion: .*/appVersion: \"$$VERSION\"/" \
	    -e "s|\(image: \)[^ ]*/locust-k8s-operator:.*|\1$$IMAGE:$$VERSION|" \
	    -e "s|https://github\.com/[^/]*/[^/ ]*|$$REPOSITORY|g" \
	    -e "s|https://raw\.githubusercontent\.com/[^/]*/[^/]*/|$$raw/|" $(CHART_DIR)/Chart.yaml

chart-lint: cluster-bins ## helm lint the chart (strict) with its default and documented values
	$(HELM) lint --strict $(CHART_DIR)

# --- OLM bundle (tools/olm-bundle generates it; tests/olm builds operator-sdk) ---
.PHONY: bundle olm-bins bundle-validate

bundle: ## Regenerate the OLM bundle (bundle/, bundle.Dockerfile) from crd/ (make crd first), config/rbac, config/olm, examples, Cargo.toml
	$(CARGO) run -q -p olm-bundle -- $(CURDIR)

olm-bins: ## Build operator-sdk from its Go module and link OLM's CSV CRD (cached by version)
	tests/olm/build.sh

bundle-validate: olm-bins ## operator-sdk bundle validate ./bundle with the operatorframework suite
	$(K8S_BIN_DIR)/operator-sdk bundle validate ./bundle --select-optional suite=operatorframework

# ---- Static binary and container image (scripts/image/; the Dockerfile runs the same scripts) ----
.PHONY: build-static build-static-arm64 check-static check-static-cluster check-arm64 lint-docker check-image

build-static: ## Static musl release binary for this machine (x86_64-unknown-linux-musl here); prints its path
	@nice -n 10 scripts/image/build-static.sh

build-static-arm64: ## Static aarch64-unknown-linux-musl binary, cross-built with zig (PyPI); prints its path
	@nice -n 10 scripts/image/build-static.sh arm64

check-static: ## Build the static binary, fail unless it is static and < 15 MiB, report its size
	scripts/image/check-static.sh --self-test
	bin="$$(nice -n 10 scripts/image/build-static.sh)" && scripts/image/check-static.sh "$$bin"

check-static-cluster: cluster-bins ## The webhook tests (API server -> HTTPS webhooks, rustls/ring) run with the static binary
	bin="$$(nice -n 10 scripts/image/build-static.sh)" && LOCUST_OPERATOR_BIN="$$bin" $(CARGO) test --test integration webhooks::

check-arm64: ## Cross-build the arm64 binary and run its --version and crd under qemu-user
	nice -n 10 scripts/image/check-arm64.sh

lint-docker: ## Lint the Dockerfile with hadolint (PyPI, cached)
	scripts/image/lint-docker.sh

check-image: lint-docker check-static check-static-cluster check-arm64 ## Everything CI checks for the image (run by .ci/run after make test)

# ---- Generated project files (tools/repo-gen; tests in tools/repo-gen/tests fail when stale; api-docs above) ----
REPO_GEN := $(CARGO) run -q -p repo-gen --
.PHONY: changelog check-changelog chart-docs kustomize

changelog: ## Regenerate CHANGELOG.md up to HEAD (records HEAD and its date), then the bundle (createdAt is that date)
	$(REPO_GEN) changelog
	$(MAKE) --no-print-directory bundle

check-changelog: ## Fail unless CHANGELOG.md is what the history gives up to the commit it records
	$(REPO_GEN) --check changelog

chart-docs: ## Regenerate the values table of the chart README from values.yaml's `# --` comments
	$(REPO_GEN) chart-docs

kustomize: cluster-bins ## Regenerate deploy/kustomize/ (kubectl apply --server-side -k) from the chart's defaults
	$(REPO_GEN) --helm $(HELM) kustomize

# ---- Release (scripts/release/, .github/workflows/release.yml, CONTRIBUTING.md "Releasing") ----
# The steps the release workflow runs on a tag too (`make release-check` fails when the
# workflow and this list differ). Their files go to $(DIST).
DIST ?= $(TARGET_DIR)/dist
export DIST
RELEASE_STEPS := release-check release-binaries release-sbom release-chart release-bundle \
                 release-notes release-checksums
RELEASE := scripts/release/steps.sh
.PHONY: release-env release-dry-run release-workflow-check release-local-publish $(RELEASE_STEPS)

release-env: ## Print the release's names (version, tag, repository, images, chart repository) from Cargo.toml
	@scripts/release/env.sh

release-check: ## TAG (default v<version>) = Cargo.toml = chart = CSV = bundle; changelog current; the workflow runs RELEASE_STEPS
	$(REPO_GEN) --tag $(or $(TAG),v$$(scripts/release/env.sh | sed -n 's/^VERSION=//p')) release-check
	$(CARGO) run -q -p olm-bundle -- --check $(CURDIR)

release-binaries: ## Static musl binaries for linux/amd64 and linux/arm64 into $(DIST), checked (arm64 under qemu-user)
	$(RELEASE) binaries

release-sbom: ## CycloneDX SBOMs (cargo-cyclonedx from crates.io, cached) per architecture, checked against Cargo.lock
	$(RELEASE) sbom

release-chart: ## helm package with the release version, helm lint --strict of the package, metadata checked
	tests/cluster/build.sh helm
	$(RELEASE) chart

release-bundle: olm-bins ## The committed bundle is current, operator-sdk validates it and lists its scorecard; bundle tarball
	$(RELEASE) bundle

release-notes: ## RELEASE-NOTES.md: TAG's changelog section, from the history like CHANGELOG.md
	$(RELEASE) notes

release-checksums: ## SHA256SUMS of the release files, verified
	$(RELEASE) checksums

release-workflow-check: ## actionlint (Go module, cached by version) on .github/workflows
	tests/cluster/build.sh actionlint
	$(RELEASE) workflow

release-local-publish: ## OCI images (crane, no Docker) and the chart pushed to a registry on 127.0.0.1, pulled back, signed (cosign, generated key)
	tests/cluster/build.sh crane cosign
	$(RELEASE) local-publish

release-dry-run: $(RELEASE_STEPS) release-workflow-check release-local-publish ## Every release step that needs no real registry, each output checked
	@echo "release-dry-run: ok: $$(ls $(DIST) | paste -sd' ')"
