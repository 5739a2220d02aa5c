// Command baseline-server is the throughput benchmark's baseline, written the
// way the original example was: a global counter with a mutex around the
// increment only. The read for the response happens outside the lock, so
// concurrent requests can see the same value: that is the bug our server fixes,
// kept here on purpose so the comparison is with what was replaced.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
)

var (
	mu      sync.Mutex
	counter int
)

func handler(w http.ResponseWriter, _ *http.Request) {
	mu.Lock()
	counter++
	mu.Unlock()
	fmt.Fprintf(w, "Hello, World! Counter: %d\n", counter)
}

func main() {
	http.HandleFunc("/", handler)
	log.Fatal(http.ListenAndServe(":"+os.Getenv("PORT"), nil)) //nolint:gosec // a benchmark baseline on loopback
}
