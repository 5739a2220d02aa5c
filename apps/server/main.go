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
}

// LoadConfig reads PORT (default 8080), SHUTDOWN_DELAY (default 0) and
// SHUTDOWN_TIMEOUT (default 10s), rejecting anything out of range.
func LoadConfig(getenv func(string) string) (Config, error) {
	cfg := Config{Port: 8080, ShutdownTimeout: 10 * time.Second}
	var errs []error
	if v := getenv("PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("PORT=%q: want an integer from 1 to 65535", v))
		}
		cfg.Port = p
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
	state := &Server{}
	return serve(ctx, cfg, slog.New(slog.NewJSONHandler(stdout, nil)), state, NewHandler(state))
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
// answered (with Connection: close) before the connections close.
func serve(ctx context.Context, cfg Config, log *slog.Logger, state *Server, h http.Handler) error {
	var draining atomic.Bool
	srv := &http.Server{
		Addr: net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if draining.Load() {
				w.Header()["Connection"] = connectionClose
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	conns := trackConns(ln)
	srv.ConnState = conns.connState
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
	log.Info("stopped")
	return nil
}

var connectionClose = []string{"close"}
