// Command server answers "Hello, World! Counter: N" over HTTP and shuts down
// gracefully: readiness drops first, in-flight requests finish, then it exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// Config is what the environment decides about the server.
type Config struct {
	Port            int
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	// MetricsPort serves /metrics apart from the app's port, so a public route
	// to the app never exposes them; 0 serves none.
	MetricsPort int
	// RequestLog writes one JSON line per request.
	RequestLog bool
	LogLevel   slog.Level
}

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// DefaultMetricsPort is where /metrics is served unless METRICS_PORT says otherwise.
const DefaultMetricsPort = 9102

// LoadConfig reads PORT (default 8080), SHUTDOWN_DELAY (default 0),
// SHUTDOWN_TIMEOUT (default 10s), METRICS_PORT (default 9102; 0 for none),
// REQUEST_LOG (on or off, default on) and LOG_LEVEL (debug, info, warn or
// error, default info), reporting every value out of range at once.
func LoadConfig(getenv func(string) string) (Config, error) {
	cfg := Config{Port: 8080, ShutdownTimeout: 10 * time.Second, MetricsPort: DefaultMetricsPort, RequestLog: true, LogLevel: slog.LevelInfo}
	var errs []error
	if v := getenv("PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("PORT=%q: want an integer from 1 to 65535", v))
		}
		cfg.Port = p
	}
	if v := getenv("METRICS_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("METRICS_PORT=%q: want an integer from 1 to 65535, or 0 to serve no metrics", v))
		}
		cfg.MetricsPort = p
	}
	if cfg.MetricsPort != 0 && cfg.MetricsPort == cfg.Port {
		errs = append(errs, fmt.Errorf("METRICS_PORT=%d: the same as PORT; metrics need a port of their own", cfg.MetricsPort))
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"SHUTDOWN_DELAY", &cfg.ShutdownDelay}, {"SHUTDOWN_TIMEOUT", &cfg.ShutdownTimeout}} {
		v := getenv(d.key)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a non-negative duration such as 5s", d.key, v))
		}
		*d.dst = parsed
	}
	switch v := getenv("REQUEST_LOG"); v {
	case "", "on":
	case "off":
		cfg.RequestLog = false
	default:
		errs = append(errs, fmt.Errorf("REQUEST_LOG=%q: want on or off", v))
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		level, known := logLevels[strings.ToLower(v)]
		if !known {
			errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", v))
		}
		cfg.LogLevel = level
	}
	return cfg, errors.Join(errs...)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("server", flag.ContinueOnError)
	flags.SetOutput(stderr)
	healthcheck := flags.Bool("healthcheck", false, "GET this server's /healthz on 127.0.0.1:$PORT and exit 0 if it answers 200")
	if err := flags.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	if *healthcheck {
		return probe(ctx, cfg.Port)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	state := &Server{}
	var o Observe
	var metrics http.Handler
	if cfg.MetricsPort != 0 {
		o.Metrics = NewMetrics(state)
		metrics = o.Metrics.Handler()
	}
	if cfg.RequestLog {
		o.Requests = log
	}
	return serve(ctx, cfg, log, state, NewHandler(state, o), metrics)
}

// probe lets the image carry a HEALTHCHECK with no shell or curl inside.
func probe(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// serve runs h until ctx ends, then drains: state reports not-ready for
// cfg.ShutdownDelay, the listener closes, and every request already begun is
// answered (with Connection: close) before the connections close. metrics, if
// not nil, is served on cfg.MetricsPort until the app's port has drained, so
// the last scrape sees the whole of it.
func serve(ctx context.Context, cfg Config, log *slog.Logger, state *Server, h http.Handler, metrics http.Handler) error {
	var draining atomic.Bool
	srv := newServer(cfg.Port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header()["Connection"] = connectionClose
		}
		h.ServeHTTP(w, r)
	}))
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	conns := trackConns(ln)
	srv.ConnState = conns.connState
	var metricsSrv *http.Server
	if metrics != nil {
		metricsSrv = newServer(cfg.MetricsPort, metrics)
		mln, err := net.Listen("tcp", metricsSrv.Addr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("metrics: %w", err)
		}
		log.Info("serving metrics", "addr", mln.Addr().String())
		go func() { _ = metricsSrv.Serve(mln) }()
		defer metricsSrv.Close()
	}
	log.Info("listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(conns) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	state.StartDraining()
	log.Info("draining", "delay", cfg.ShutdownDelay.String())
	time.Sleep(cfg.ShutdownDelay)

	// Not srv.Shutdown yet: it would close connections whose next request is
	// half-read and drop it. Stop accepting, then let conns close each
	// connection once it holds no request.
	draining.Store(true)
	if err := ln.Close(); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := conns.drain(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if metricsSrv != nil {
		if err := metricsSrv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: metrics: %w", err)
		}
	}
	log.Info("stopped")
	return nil
}

var connectionClose = []string{"close"}

// newServer serves h on port with every timeout set: a slow or idle client
// cannot hold a connection, or the server's memory, open.
func newServer(port int, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(port)),
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}
