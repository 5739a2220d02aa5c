// Command pause is the pod sandbox process of the end-to-end cluster: it holds the pod's namespaces
// and does nothing until it is told to stop. No registry is reachable, so the usual image cannot be had.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	// As PID 1 of a pod sharing its process namespace, it must reap orphans.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			return
		default:
		}
		var status syscall.WaitStatus
		if pid, err := syscall.Wait4(-1, &status, 0, nil); pid <= 0 || err != nil {
			<-stop
			return
		}
	}
}
