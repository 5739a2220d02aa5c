module github.com/dockyard/apps/server

go 1.26
