package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// scrape reads what Prometheus would: the text exposition of m.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics answered %d", rec.Code)
	}
	return rec.Body.String()
}

// sample is the value of the series named exactly as Prometheus prints it, or -1.
func sample(exposition, series string) float64 {
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func TestMetricsCountRequestsByMethodRouteAndCode(t *testing.T) {
	s := &Server{}
	m := NewMetrics(s)
	h := NewHandler(s, Observe{Metrics: m})
	for _, r := range []struct {
		method, path string
		times        int
	}{
		{"GET", "/", 3}, {"HEAD", "/", 1}, {"GET", "/healthz", 2}, {"POST", "/", 1},
		{"GET", "/nope", 1}, {"GET", "/wp-login.php", 1}, {"BREW", "/", 1},
	} {
		for range r.times {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
		}
	}
	got := scrape(t, m)
	tests := []struct {
		series string
		want   float64
	}{
		{`http_requests_total{code="200",method="GET",route="/"}`, 3},
		{`http_requests_total{code="200",method="HEAD",route="/"}`, 1},
		{`http_requests_total{code="200",method="GET",route="/healthz"}`, 2},
		{`http_requests_total{code="405",method="POST",route="/"}`, 1},
		// Unknown paths share one series, whatever was asked: a scan cannot grow the series.
		{`http_requests_total{code="404",method="GET",route="other"}`, 2},
		{`http_requests_total{code="405",method="other",route="/"}`, 1},
		{`http_request_duration_seconds_count{method="GET",route="/"}`, 3},
		{`http_request_duration_seconds_count{method="GET",route="other"}`, 2},
		{`http_requests_in_flight`, 0},
		// GET and HEAD on / both count a greeting.
		{`hello_counter`, 4},
	}
	for _, tt := range tests {
		if v := sample(got, tt.series); v != tt.want {
			t.Errorf("%s = %v, want %v", tt.series, v, tt.want)
		}
	}
	for _, family := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if !strings.Contains(got, "\n"+family+" ") {
			t.Errorf("no %s: the runtime and process collectors are missing", family)
		}
	}
	if strings.Contains(got, "wp-login") {
		t.Error("a requested path became a label value")
	}
}

func TestInFlightCountsRequestsBeingServed(t *testing.T) {
	s := &Server{}
	m := NewMetrics(s)
	entered, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	done := make(chan struct{})
	go func() {
		Observe{Metrics: m}.observed(httptest.NewRecorder(), httptest.NewRequest("GET", "/readyz", nil), slow)
		close(done)
	}()
	<-entered
	if v := sample(scrape(t, m), "http_requests_in_flight"); v != 1 {
		t.Fatalf("in flight during a request: %v, want 1", v)
	}
	close(release)
	<-done
	got := scrape(t, m)
	if v := sample(got, "http_requests_in_flight"); v != 0 {
		t.Fatalf("in flight after it: %v, want 0", v)
	}
	if v := sample(got, `http_requests_total{code="202",method="GET",route="/readyz"}`); v != 1 {
		t.Fatalf("the answer's own status counted %v times, want once", v)
	}
}

func TestRequestLogLinePerRequest(t *testing.T) {
	var out bytes.Buffer
	s := &Server{}
	h := NewHandler(s, Observe{Requests: slog.New(slog.NewJSONHandler(&out, nil))})
	for _, path := range []string{"/", "/missing"} {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "192.0.2.7:51234"
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 2 requests: %q", len(lines), out.String())
	}
	type line struct {
		Level, Msg, Method, Path, Remote string
		Status, Bytes                    int
		DurationMs                       *float64 `json:"duration_ms"`
	}
	want := []line{
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/", Remote: "192.0.2.7:51234", Status: 200, Bytes: len("Hello, World! Counter: 1\n")},
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/missing", Remote: "192.0.2.7:51234", Status: 404, Bytes: len("404 page not found\n")},
	}
	for i, raw := range lines {
		var got line
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("line %q: %v", raw, err)
		}
		if got.DurationMs == nil || *got.DurationMs < 0 {
			t.Errorf("line %q: no duration_ms", raw)
		}
		got.DurationMs = nil
		if got != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got, want[i])
		}
	}
}

// The process as deployed: the app's port serves the app alone, the metrics
// port the metrics alone; REQUEST_LOG and LOG_LEVEL decide what stdout gets.
func TestRunServesMetricsOnTheirOwnPort(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantRequests bool
	}{
		{name: "defaults: a line per request", env: map[string]string{}, wantRequests: true},
		{name: "REQUEST_LOG=off", env: map[string]string{"REQUEST_LOG": "off"}},
		{name: "LOG_LEVEL=warn hides them too", env: map[string]string{"LOG_LEVEL": "warn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, metricsPort := freePort(t), freePort(t)
			tt.env["PORT"], tt.env["METRICS_PORT"] = strconv.Itoa(port), strconv.Itoa(metricsPort)
			var stdout lockedBuffer
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, nil, env(tt.env), &stdout, io.Discard) }()
			app, metrics := fmt.Sprintf("http://127.0.0.1:%d", port), fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
			waitFor(t, "the app", func() bool { return status(app+"/healthz") == 200 })
			waitFor(t, "the metrics", func() bool { return status(metrics) == 200 })
			if got := status(app + "/"); got != 200 {
				t.Fatalf("/ answered %d", got)
			}
			if got := status(app + "/metrics"); got != 404 {
				t.Errorf("the app's port answered /metrics with %d, want 404", got)
			}
			resp, err := noKeepAlive.Get(metrics)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if v := sample(string(body), `http_requests_total{code="200",method="GET",route="/"}`); v != 1 {
				t.Errorf("the metrics port counted / %v times, want 1:\n%s", v, body)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			logged := strings.Contains(stdout.String(), `"msg":"request","method":"GET","path":"/","status":200`)
			if logged != tt.wantRequests {
				t.Errorf("request line for / logged: %v, want %v\n%s", logged, tt.wantRequests, stdout.String())
			}
			if !strings.Contains(stdout.String(), `"msg":"serving metrics"`) && !strings.Contains(stdout.String(), `"level":"WARN"`) && tt.env["LOG_LEVEL"] != "warn" {
				t.Errorf("no lifecycle line for the metrics port:\n%s", stdout.String())
			}
		})
	}
}
