package main

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// Server holds the state shared by every request: the hit counter and the
// readiness flag that shutdown lowers before the listener closes.
type Server struct {
	hits     atomic.Uint64
	draining atomic.Bool
}

// NewHandler returns the routes of the service. The counter is an atomic
// add-and-read, so each request sees the value its own increment produced:
// under any concurrency the answers are exactly 1..N with no repeats.
func NewHandler(s *Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.hello)
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", s.ready)
	// GET / is nearly all the traffic: answering it before the pattern
	// matcher measurably raises throughput (bench/README.md). Every other
	// request, including other methods on /, still goes through mux.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.hello(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Assigned rather than Set: the key is already canonical, so this skips
// canonicalisation and an allocation on the hot path.
var textPlain = []string{"text/plain; charset=utf-8"}

func (s *Server) hello(w http.ResponseWriter, _ *http.Request) {
	n := s.hits.Add(1)
	w.Header()["Content-Type"] = textPlain
	body := make([]byte, 0, 48)
	body = append(body, "Hello, World! Counter: "...)
	body = strconv.AppendUint(body, n, 10)
	body = append(body, '\n')
	_, _ = w.Write(body)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ok(w, r)
}

// StartDraining makes /readyz fail so load balancers stop routing here while
// requests already on their way are still served.
func (s *Server) StartDraining() { s.draining.Store(true) }

func ok(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = textPlain
	_, _ = w.Write([]byte("ok\n"))
}
