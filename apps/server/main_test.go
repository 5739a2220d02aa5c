package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the server binary, so the shutdown test can send
// a real SIGTERM to a real process and read its real exit code.
func TestMain(m *testing.M) {
	if os.Getenv("SERVER_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// env is an environment of exactly kv, but that it serves no metrics unless
// kv names METRICS_PORT: tests run side by side, and the default port is fixed.
func env(kv map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := kv[k]; ok || k != "METRICS_PORT" {
			return v
		}
		return "0"
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", env: nil, want: Config{Port: 8080, ShutdownTimeout: 10 * time.Second, MetricsPort: 9102, RequestLog: true}},
		{name: "valid port", env: map[string]string{"PORT": "9090"}, want: Config{Port: 9090, ShutdownTimeout: 10 * time.Second, MetricsPort: 9102, RequestLog: true}},
		{name: "lowest port", env: map[string]string{"PORT": "1"}, want: Config{Port: 1, ShutdownTimeout: 10 * time.Second, MetricsPort: 9102, RequestLog: true}},
		{name: "highest port", env: map[string]string{"PORT": "65535"}, want: Config{Port: 65535, ShutdownTimeout: 10 * time.Second, MetricsPort: 9102, RequestLog: true}},
		{name: "shutdown knobs", env: map[string]string{"SHUTDOWN_DELAY": "3s", "SHUTDOWN_TIMEOUT": "20s"},
			want: Config{Port: 8080, ShutdownDelay: 3 * time.Second, ShutdownTimeout: 20 * time.Second, MetricsPort: 9102, RequestLog: true}},
		{name: "port not a number", env: map[string]string{"PORT": "http"}, wantErr: `PORT="http": want an integer from 1 to 65535`},
		{name: "port zero", env: map[string]string{"PORT": "0"}, wantErr: `PORT="0": want an integer from 1 to 65535`},
		{name: "port too high", env: map[string]string{"PORT": "65536"}, wantErr: `PORT="65536": want an integer from 1 to 65535`},
		{name: "port negative", env: map[string]string{"PORT": "-80"}, wantErr: `PORT="-80": want an integer from 1 to 65535`},
		{name: "port with spaces", env: map[string]string{"PORT": " 80"}, wantErr: `PORT=" 80": want an integer from 1 to 65535`},
		{name: "port with suffix", env: map[string]string{"PORT": "80tcp"}, wantErr: `PORT="80tcp": want an integer from 1 to 65535`},
		{name: "bad delay", env: map[string]string{"SHUTDOWN_DELAY": "soon"}, wantErr: `SHUTDOWN_DELAY="soon": want a non-negative duration`},
		{name: "negative timeout", env: map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, wantErr: `SHUTDOWN_TIMEOUT="-1s": want a non-negative duration`},
		{name: "metrics elsewhere, logs quiet", env: map[string]string{"METRICS_PORT": "9200", "REQUEST_LOG": "off", "LOG_LEVEL": "warn"},
			want: Config{Port: 8080, ShutdownTimeout: 10 * time.Second, MetricsPort: 9200, LogLevel: slog.LevelWarn}},
		{name: "no metrics", env: map[string]string{"METRICS_PORT": "0", "LOG_LEVEL": "DEBUG"},
			want: Config{Port: 8080, ShutdownTimeout: 10 * time.Second, RequestLog: true, LogLevel: slog.LevelDebug}},
		{name: "metrics port not a number", env: map[string]string{"METRICS_PORT": "prom"}, wantErr: `METRICS_PORT="prom": want an integer from 1 to 65535, or 0 to serve no metrics`},
		{name: "metrics port too high", env: map[string]string{"METRICS_PORT": "70000"}, wantErr: `METRICS_PORT="70000"`},
		{name: "metrics on the app's port", env: map[string]string{"PORT": "9102"}, wantErr: `METRICS_PORT=9102: the same as PORT`},
		{name: "request log neither on nor off", env: map[string]string{"REQUEST_LOG": "yes"}, wantErr: `REQUEST_LOG="yes": want on or off`},
		{name: "unknown log level", env: map[string]string{"LOG_LEVEL": "verbose"}, wantErr: `LOG_LEVEL="verbose": want debug, info, warn or error`},
		{name: "log level with an offset", env: map[string]string{"LOG_LEVEL": "info+2"}, wantErr: `LOG_LEVEL="info+2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("config %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, err := LoadConfig(env(map[string]string{"PORT": "x", "SHUTDOWN_DELAY": "y"}))
	if err == nil || !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), "SHUTDOWN_DELAY") {
		t.Fatalf("error %v, want both PORT and SHUTDOWN_DELAY named", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noKeepAlive opens a fresh connection per request, so each request proves
// whether the listener still accepts.
var noKeepAlive = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func status(url string) int {
	resp, err := noKeepAlive.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestHealthcheckMode(t *testing.T) {
	port := freePort(t)
	getenv := env(map[string]string{"PORT": strconv.Itoa(port)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, getenv, io.Discard, io.Discard) }()
	waitFor(t, "server up", func() bool { return status(fmt.Sprintf("http://127.0.0.1:%d/healthz", port)) == 200 })

	if err := run(context.Background(), []string{"-healthcheck"}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck against a live server: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	if err := run(context.Background(), []string{"-healthcheck"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck against a stopped server succeeded")
	}
}

func TestRunRejectsUnknownFlag(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-bogus"}, env(nil), io.Discard, &stderr); err == nil {
		t.Fatal("run accepted -bogus")
	}
}

func startServerProcess(t *testing.T, extraEnv ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	// No metrics port unless a test asks: processes of side-by-side tests would share the default one.
	cmd.Env = append(os.Environ(), append([]string{"SERVER_TEST_RUN_MAIN=1", "METRICS_PORT=0"}, extraEnv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stdout, &stderr
}

func TestBadPortExitsAtOnce(t *testing.T) {
	cmd, _, stderr := startServerProcess(t, "PORT=not-a-port")
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("exit %v, want non-zero", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `PORT="not-a-port"`) {
		t.Fatalf("stderr %q, want one line naming PORT", stderr.String())
	}
}

// A request whose handler is running when shutdown starts must be answered,
// even after the listener has closed to new connections.
func TestShutdownFinishesInFlightRequest(t *testing.T) {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	state := &Server{}
	entered, release := make(chan struct{}), make(chan struct{})
	app := NewHandler(state, Observe{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
			r.URL.Path = "/"
		}
		app.ServeHTTP(w, r)
	})
	ctx, signal := context.WithCancel(context.Background())
	cfg := Config{Port: port, ShutdownDelay: 300 * time.Millisecond, ShutdownTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), state, h, nil) }()
	waitFor(t, "readiness", func() bool { return status(base+"/readyz") == 200 })

	answer := make(chan string, 1)
	go func() {
		resp, err := noKeepAlive.Get(base + "/slow")
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answer <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	<-entered
	signal()
	waitFor(t, "new connections to be refused", func() bool { return !accepts(port) })
	select {
	case err := <-served:
		t.Fatalf("serve returned %v with a request still in flight", err)
	default:
	}
	close(release)

	if got, want := <-answer, "200 Hello, World! Counter: 1\n"; got != want {
		t.Fatalf("in-flight request got %q, want %q", got, want)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func accepts(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestSIGTERMDrainsThenExitsZero(t *testing.T) {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	const delay = 1500 * time.Millisecond
	cmd, stdout, stderr := startServerProcess(t, "PORT="+strconv.Itoa(port), "SHUTDOWN_DELAY="+delay.String())
	waitFor(t, "readiness", func() bool { return status(base+"/readyz") == 200 })

	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readiness to drop", func() bool { return status(base+"/readyz") == 503 })
	if got := status(base + "/"); got != 200 || time.Since(signalled) >= delay {
		t.Fatalf("during the drain delay / answered %d after %v, want 200 within %v", got, time.Since(signalled), delay)
	}
	waitFor(t, "new connections to be refused", func() bool { return !accepts(port) })

	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v (stderr %q)", err, stderr.String())
	}
	if elapsed := time.Since(signalled); elapsed < delay {
		t.Fatalf("exited %v after SIGTERM, before the %v drain delay", elapsed, delay)
	}
	var events []string
	requests := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var entry struct {
			Msg, Path string
			Status    int
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if entry.Msg == "request" {
			requests[fmt.Sprintf("%s %d", entry.Path, entry.Status)]++
			continue
		}
		events = append(events, entry.Msg)
	}
	// Request lines (on by default) come between them; the lifecycle keeps its own.
	if got, want := strings.Join(events, ","), "listening,draining,stopped"; got != want {
		t.Fatalf("lifecycle log %q, want %q", got, want)
	}
	if requests["/ 200"] != 1 || requests["/readyz 503"] < 1 {
		t.Fatalf("request lines %v, want / answered 200 once and /readyz 503 at least once", requests)
	}
}

// lockedBuffer lets the test read a child's output while exec still writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A request is dropped if shutdown closes its connection between its first
// bytes and the end of its headers: `docker stop` and every replacement
// would then cost the clients caught in that window an error. The client here
// is a raw socket, so the test decides exactly which bytes arrive before
// SIGTERM and which after.
func TestSIGTERMAnswersRequestsWhoseHeadersCompleteAfterIt(t *testing.T) {
	const head, tail = "GET / HTTP/1.1\r\nHost: dockyard\r\n", "User-Agent: raw\r\n\r\n"
	tests := []struct {
		name      string
		keepAlive bool // one full request first, so the partial one arrives on an idle keep-alive connection
		wantBody  string
	}{
		{name: "on a new connection", wantBody: "Hello, World! Counter: 1\n"},
		{name: "on an idle keep-alive connection", keepAlive: true, wantBody: "Hello, World! Counter: 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			var stdout lockedBuffer
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "SERVER_TEST_RUN_MAIN=1", "PORT="+strconv.Itoa(port))
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			waitFor(t, "readiness", func() bool { return status(fmt.Sprintf("http://127.0.0.1:%d/readyz", port)) == 200 })

			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			replies := bufio.NewReader(conn)
			if tt.keepAlive {
				if _, err := io.WriteString(conn, head+tail); err != nil {
					t.Fatal(err)
				}
				first, err := http.ReadResponse(replies, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, first.Body)
				first.Body.Close()
			}

			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			// Let the server read the first bytes before the signal lands.
			time.Sleep(100 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the drain to start", func() bool { return strings.Contains(stdout.String(), `"msg":"draining"`) })
			// Long enough for shutdown to have closed every connection it considers idle.
			time.Sleep(300 * time.Millisecond)
			if _, err := io.WriteString(conn, tail); err != nil {
				t.Fatalf("finishing the headers after SIGTERM: %v", err)
			}

			resp, err := http.ReadResponse(replies, nil)
			if err != nil {
				t.Fatalf("request begun before SIGTERM got no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != tt.wantBody {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, tt.wantBody)
			}
			if !resp.Close {
				t.Fatalf("answer during shutdown kept the connection open (headers %v)", resp.Header)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit: %v", err)
			}
		})
	}
}

// Idle keep-alive connections must not hold the exit until SHUTDOWN_TIMEOUT.
func TestSIGTERMClosesIdleKeepAliveConnectionsAtOnce(t *testing.T) {
	port := freePort(t)
	cmd, _, _ := startServerProcess(t, "PORT="+strconv.Itoa(port), "SHUTDOWN_TIMEOUT=1m")
	base := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor(t, "readiness", func() bool { return status(base+"readyz") == 200 })
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an idle keep-alive connection held the exit (SHUTDOWN_TIMEOUT is 1m)")
	}
}
