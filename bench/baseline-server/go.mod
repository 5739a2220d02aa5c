module github.com/dockyard/bench/baseline-server

go 1.26
