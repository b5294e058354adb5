# The two commands a fresh machine needs: `make run` and `make test`. Both fetch what they need
# (NuGet packages; the Envoy API protos from the pinned npm package, verified by integrity hash).
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIGURATION ?= Release
INPUT ?= $(CURDIR)/envoy-config/examples/aws-seed
LISTEN ?= 127.0.0.1:8001
DEBUG_LISTEN ?= 127.0.0.1:8080
# The control plane image: `make image IMAGE=my-registry/xds-control-plane VERSION=v0.1.0`, then push it and set the
# same reference in envoy-config/kubernetes/kustomization.yaml (images:). VERSION is what --version prints.
IMAGE ?= registry.example.com/nodeport-proxy/xds-control-plane
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
DOCKER ?= docker
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: all build run test bench bench-quick clean check-tools image

all: build

check-tools:
	@command -v $(DOTNET) >/dev/null || { echo "make: the .NET SDK (dotnet) is required: install it from Debian's or Microsoft's packages"; exit 1; }
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make: node and npm are required to fetch the Envoy API protos: apt-get install nodejs npm"; exit 1; }

build: check-tools
	$(DOTNET) build XdsControlPlane.sln -c $(CONFIGURATION) -nologo -clp:ErrorsOnly

# Serves the example seed on loopback: xDS (h2c) on $(LISTEN), debug JSON on http://$(DEBUG_LISTEN)/.
run: build
	$(DOTNET) run --no-build -c $(CONFIGURATION) --project src/XdsControlPlane.Server -- \
		--input "$(INPUT)" --listen-address $(LISTEN) --debug-address $(DEBUG_LISTEN)

test: build
	@bash scripts/run-tests.sh $(CONFIGURATION)

# The real-Envoy end-to-end test (docs/e2e.md): ENVOY_BIN=/path/to/envoy make e2e. Uses 6443, 8088 and 8002 on 0.0.0.0.
.PHONY: e2e
e2e:
	@if [ -z "$$ENVOY_BIN" ]; then \
		echo "make e2e: set ENVOY_BIN to an Envoy binary (KKP ships Envoy 1.37), for example:"; \
		echo "  docker create --name envoy-bin envoyproxy/envoy:v1.37-latest && docker cp envoy-bin:/usr/local/bin/envoy ./envoy && docker rm envoy-bin"; \
		echo "  func-e (func-e.io) downloads Envoy builds: func-e use 1.37.0, the binary lands under ~/.func-e/versions/"; \
		echo "  or the envoy package from Envoy's apt repository (apt.envoyproxy.io)"; \
		echo "then: ENVOY_BIN=\$$PWD/envoy make e2e"; exit 2; fi
	@[ -x "$$ENVOY_BIN" ] || { echo "make e2e: ENVOY_BIN=$$ENVOY_BIN is not an executable file"; exit 2; }
	@$(MAKE) --no-print-directory build
	ENVOY_BIN="$$(realpath "$$ENVOY_BIN")" $(DOTNET) test tests/XdsControlPlane.Server.Tests -c $(CONFIGURATION) --no-build -nologo \
		--filter "FullyQualifiedName=XdsControlPlane.Server.Tests.RealEnvoy.RealEnvoyTests.RealConnectionsAreAdmittedOrRefusedByTheListAndANarrowingEndsLiveOnes" \
		--logger "console;verbosity=detailed"

# Every benchmark (rule compilation, CIDR trie, push fan-out); figures are ratios against baselines run alongside.
# Then the real host's resident memory under each GC setting (docs/performance.md, "Memory of the host"; ~15 minutes).
bench: check-tools
	$(DOTNET) run -c Release --project benchmarks/XdsControlPlane.Benchmarks -- --filter '*' --job short --buildTimeout 1200
	$(DOTNET) run -c Release --project benchmarks/XdsControlPlane.Benchmarks -- host-memory

# Multi-stage build (Dockerfile): the SDK stage fetches the protos with node/npm, the runtime stage is chiselled and non-root.
image:
	@command -v $(DOCKER) >/dev/null || { echo "make: $(DOCKER) is required to build the image (or set DOCKER=podman)"; exit 1; }
	$(DOCKER) build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .
	@echo "built $(IMAGE):$(VERSION); push it, then: cd envoy-config/kubernetes && kustomize edit set image xds-control-plane=$(IMAGE):$(VERSION)"

clean:
	$(DOTNET) clean XdsControlPlane.sln -nologo -v q
	rm -rf protos/.cache
