# The two commands of the README:
#   make demo   set up, build, and run the demo on the embedded default
#   make test   set up, build, and run the tests
#   make bench  time ganshift against a PyTorch peer, into docs/performance.md
export PATH := $(PATH):/usr/local/go/bin

OUT ?= demo-out

.PHONY: setup build demo test test-short bench bench-go

setup:
	./scripts/setup.sh

build: setup
	go build -o ganshift ./cmd/ganshift

demo: build
	./ganshift demo --out $(OUT)

test:
	./scripts/setup.sh test
	go vet ./...
	go test -count=1 -timeout 40m ./...

test-short:
	./scripts/setup.sh test
	go test -count=1 -short ./...

# make bench: ganshift against the PyTorch peer (tools/bench/peer.py on
# /usr/bin/python3 with Debian's python3-torch, which setup installs),
# written to docs/performance.md. Takes about 12 minutes on an idle 2-core
# CPU; run nothing else meanwhile.
bench: build
	./scripts/setup.sh bench
	./ganshift bench --out docs/performance.md

# The Go micro-benchmarks of the packages.
bench-go: setup
	go test -run '^$$' -bench . -benchtime 5x ./...
