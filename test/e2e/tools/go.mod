module dockyard.local/e2e-tools

go 1.26
