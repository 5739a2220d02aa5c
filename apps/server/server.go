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

// NewHandler returns the routes of the service, each request observed as o
// says. The counter is an atomic add-and-read, so each request sees the value
// its own increment produced: under any concurrency the answers are exactly
// 1..N with no repeats.
func NewHandler(s *Server, o Observe) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { s.hello(w, r) })
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", s.ready)
	quiet := o.Metrics == nil && o.Requests == nil
	// GET / is nearly all the traffic: answering it before the pattern
	// matcher measurably raises throughput (bench/README.md). Every other
	// request, including other methods on /, still goes through mux.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hello := r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
		switch {
		case quiet && hello:
			s.hello(w, r)
		case quiet:
			mux.ServeHTTP(w, r)
		case hello:
			o.hello(s, w, r)
		default:
			o.observed(w, r, mux)
		}
	})
}

// Assigned rather than Set: the key is already canonical, so this skips
// canonicalisation and an allocation on the hot path.
var textPlain = []string{"text/plain; charset=utf-8"}

// hello answers the greeting; it returns the bytes written.
func (s *Server) hello(w http.ResponseWriter, _ *http.Request) int {
	n := s.hits.Add(1)
	w.Header()["Content-Type"] = textPlain
	body := make([]byte, 0, 48)
	body = append(body, "Hello, World! Counter: "...)
	body = strconv.AppendUint(body, n, 10)
	body = append(body, '\n')
	written, _ := w.Write(body)
	return written
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
