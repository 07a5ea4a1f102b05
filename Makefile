# Every target runs on the pinned Node 24 (provisioned into the cache when missing).
SHELL := /bin/bash
.DEFAULT_GOAL := help
FSE_HOME ?= $(HOME)/.cache/flash-sale-engine
NODE_VERSION := $(shell cat .nvmrc)
NODE_BIN := $(shell FSE_HOME=$(FSE_HOME) tools/node-env.sh $(NODE_VERSION))
export FSE_HOME
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
HARNESS := node tools/harness/src/cli.ts
DEPS_STAMP := node_modules/.deps-stamp

.PHONY: help setup deps services-install services-up services-down services-status images cluster-up cluster-down cluster-env lint format typecheck test test-unit demo bench clean

help:
	@echo "make demo            run a complete flash sale locally"
	@echo "make test            lint, typecheck and every test suite (starts the services it needs)"
	@echo "make test-unit       the pure tests only (vitest project unit): no service, seconds"
	@echo "make services-up     start Redis, Kafka, the Kubernetes control plane and Prometheus"
	@echo "make services-down   stop them"
	@echo "make images          build the container images with podman (cached)"
	@echo "make cluster-up      a real one-node Kubernetes cluster with the images (README, Kubernetes)"
	@echo "make bench           benchmarks against ceilings measured in the same run"

$(DEPS_STAMP): package.json package-lock.json $(wildcard */package.json) tools/harness/package.json
	# the lock keeps two make runs (or an npm install elsewhere) from rewriting node_modules at once
	flock /tmp/flash-sale-engine-npm.lock npm ci --no-audit --no-fund
	@touch $@

deps: $(DEPS_STAMP)
setup: deps

services-install: deps
	$(HARNESS) install

services-up: services-install
	$(HARNESS) up

services-down: deps
	$(HARNESS) down

services-status: deps
	$(HARNESS) status

# container images built here with podman (product from the Dockerfile, Redis, Kafka, pause); cached, incremental
images: deps
	$(HARNESS) images

# a real one-node cluster (README, Kubernetes): the control plane, a kubelet node with containerd, and the images
cluster-up: services-install
	$(HARNESS) up kube node

cluster-down: deps
	$(HARNESS) down node kube

cluster-env: deps
	@$(HARNESS) cluster-env

lint: deps
	biome check .

format: deps
	biome check --write .

typecheck: deps
	tsc -p tsconfig.json

test: services-install images
	tools/run-tests.sh

# the fast loop: pure tests beside the code, no global setup, no service started
test-unit: deps
	vitest run --project unit

demo: deps
	node tools/demo.ts

bench: deps
	$(HARNESS) up redis kafka
	node bench/run.ts

clean:
	rm -rf node_modules reports/tmp
