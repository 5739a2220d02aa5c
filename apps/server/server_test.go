package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestRoutes(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		path      string
		draining  bool
		wantCode  int
		wantBody  string
		wantAllow string
	}{
		{name: "hello counts from one", method: "GET", path: "/", wantCode: 200, wantBody: "Hello, World! Counter: 1\n"},
		{name: "HEAD on hello is allowed", method: "HEAD", path: "/", wantCode: 200},
		{name: "POST on hello", method: "POST", path: "/", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "PUT on hello", method: "PUT", path: "/", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "DELETE on hello", method: "DELETE", path: "/", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "liveness", method: "GET", path: "/healthz", wantCode: 200, wantBody: "ok\n"},
		{name: "liveness while draining", method: "GET", path: "/healthz", draining: true, wantCode: 200, wantBody: "ok\n"},
		{name: "readiness", method: "GET", path: "/readyz", wantCode: 200, wantBody: "ok\n"},
		{name: "readiness while draining", method: "GET", path: "/readyz", draining: true, wantCode: 503, wantBody: "shutting down\n"},
		{name: "POST on readiness", method: "POST", path: "/readyz", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "unknown path", method: "GET", path: "/nope", wantCode: 404},
		{name: "path under root is not root", method: "GET", path: "/index.html", wantCode: 404},
	}
	// Observed or not, every route answers the same.
	observes := map[string]func(*Server) Observe{
		"quiet": func(*Server) Observe { return Observe{} },
		"observed": func(s *Server) Observe {
			return Observe{Metrics: NewMetrics(s), Requests: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		},
	}
	for _, tt := range tests {
		for mode, observe := range observes {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				s := &Server{}
				if tt.draining {
					s.StartDraining()
				}
				rec := httptest.NewRecorder()
				NewHandler(s, observe(s)).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))

				if rec.Code != tt.wantCode {
					t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.wantCode)
				}
				if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
					t.Errorf("body %q, want %q", rec.Body.String(), tt.wantBody)
				}
				if rec.Code == http.StatusOK {
					if got := rec.Header().Get("Content-Type"); got != "text/plain; charset=utf-8" {
						t.Errorf("Content-Type %q, want text/plain; charset=utf-8", got)
					}
				}
				if got := rec.Header().Get("Allow"); got != tt.wantAllow {
					t.Errorf("Allow %q, want %q", got, tt.wantAllow)
				}
			})
		}
	}
}

func TestCounterIgnoresProbesAndRejectedMethods(t *testing.T) {
	s := &Server{}
	h := NewHandler(s, Observe{})
	for _, r := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"POST", "/"}, {"GET", "/missing"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if want := "Hello, World! Counter: 1\n"; rec.Body.String() != want {
		t.Fatalf("first counted request answered %q, want %q", rec.Body.String(), want)
	}
}

// Every concurrent request must see its own count: the set of answers is
// exactly {1..N}, so no update was lost and no value was handed out twice.
func TestCounterUnderConcurrency(t *testing.T) {
	t.Run("quiet", func(t *testing.T) { counterUnderConcurrency(t, func(*Server) Observe { return Observe{} }) })
	t.Run("observed", func(t *testing.T) {
		counterUnderConcurrency(t, func(s *Server) Observe {
			return Observe{Metrics: NewMetrics(s), Requests: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		})
	})
}

func counterUnderConcurrency(t *testing.T, observe func(*Server) Observe) {
	const workers, perWorker = 64, 100
	s := &Server{}
	srv := httptest.NewServer(NewHandler(s, observe(s)))
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = workers

	seen := make(chan uint64, workers*perWorker)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				resp, err := client.Get(srv.URL + "/")
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var n uint64
				if _, err := fmt.Sscanf(string(body), "Hello, World! Counter: %d\n", &n); err != nil {
					t.Errorf("unparseable body %q: %v", body, err)
					return
				}
				seen <- n
			}
		})
	}
	wg.Wait()
	close(seen)

	counts := make(map[uint64]int, workers*perWorker)
	for n := range seen {
		counts[n]++
	}
	const total = workers * perWorker
	if len(counts) != total {
		t.Fatalf("%d distinct counters, want %d", len(counts), total)
	}
	for n := uint64(1); n <= total; n++ {
		if counts[n] != 1 {
			t.Fatalf("counter %d seen %d times, want once", n, counts[n])
		}
	}
}

func BenchmarkHello(b *testing.B) {
	h := NewHandler(&Server{}, Observe{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/", nil)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !strings.HasPrefix(rec.Body.String(), "Hello, World! Counter: ") {
				b.Fatalf("unexpected body %q", rec.Body.String())
			}
		}
	})
}
