# The two commands of the README:
#   make demo   set up, build, and run the demo on the embedded default
#   make test   set up, build, and run the tests
export PATH := $(PATH):/usr/local/go/bin

OUT ?= demo-out

.PHONY: setup build demo test test-short bench

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

bench: setup
	go test -run '^$$' -bench . -benchtime 5x ./...
