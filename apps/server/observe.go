package main

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Observe is what the server says about the requests it serves: Prometheus
// metrics and a log line per request. A nil field turns that part off.
type Observe struct {
	Metrics *Metrics
	// Requests gets one line per request; nil logs none.
	Requests *slog.Logger
}

// Metrics are the server's Prometheus collectors, registered on a registry of
// their own so that only they and the Go runtime and process collectors are
// exposed.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// GET / is nearly all the traffic: its series are resolved once, not per
	// request.
	helloOK       prometheus.Counter
	helloHeadOK   prometheus.Counter
	helloDuration prometheus.Observer
	helloHeadDur  prometheus.Observer
}

// NewMetrics registers the request metrics and the hit counter of s.
func NewMetrics(s *Server) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from a request's headers to its handler's return, by method and route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	hits := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hello_counter",
		Help: "The counter GET / answers with: the number of greetings served.",
	}, func() float64 { return float64(s.hits.Load()) })
	reg.MustRegister(m.requests, m.duration, m.inFlight, hits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.helloOK = m.requests.WithLabelValues(http.MethodGet, "/", "200")
	m.helloHeadOK = m.requests.WithLabelValues(http.MethodHead, "/", "200")
	m.helloDuration = m.duration.WithLabelValues(http.MethodGet, "/")
	m.helloHeadDur = m.duration.WithLabelValues(http.MethodHead, "/")
	return m
}

// Handler serves the metrics in the Prometheus text format, for the metrics
// port alone.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// routeOf names a request's route by the patterns the mux serves, so a scan of
// random paths cannot grow the number of series.
func routeOf(path string) string {
	switch path {
	case "/", "/healthz", "/readyz":
		return path
	}
	return "other"
}

// methodOf keeps the method label to the methods HTTP defines.
func methodOf(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// recorder remembers what a handler answered: its status and how many body
// bytes it wrote.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// observed answers a request with next and records it: metrics, and a log line.
func (o Observe) observed(w http.ResponseWriter, r *http.Request, next http.Handler) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	if o.Metrics != nil {
		o.Metrics.inFlight.Inc()
	}
	next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	elapsed := time.Since(start)
	if m := o.Metrics; m != nil {
		m.inFlight.Dec()
		method, route := methodOf(r.Method), routeOf(r.URL.Path)
		m.requests.WithLabelValues(method, route, strconv.Itoa(rec.status)).Inc()
		m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
	}
	o.logRequest(r, rec.status, rec.bytes, elapsed)
}

// hello answers GET and HEAD / with s.hello, recorded without the generic
// path's allocations: its status is always 200.
func (o Observe) hello(s *Server, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	m := o.Metrics
	if m != nil {
		m.inFlight.Inc()
	}
	n := s.hello(w, r)
	elapsed := time.Since(start)
	if m != nil {
		m.inFlight.Dec()
		if r.Method == http.MethodHead {
			m.helloHeadOK.Inc()
			m.helloHeadDur.Observe(elapsed.Seconds())
		} else {
			m.helloOK.Inc()
			m.helloDuration.Observe(elapsed.Seconds())
		}
	}
	o.logRequest(r, http.StatusOK, n, elapsed)
}

func (o Observe) logRequest(r *http.Request, status, bytes int, elapsed time.Duration) {
	if o.Requests == nil {
		return
	}
	o.Requests.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.Int("bytes", bytes),
		slog.String("remote", r.RemoteAddr),
	)
}
