module github.com/dockyard/apps/hello

go 1.26
