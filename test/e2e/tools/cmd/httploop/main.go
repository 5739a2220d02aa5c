// Command httploop sends GET requests to one URL and reports, as JSON lines on stdout, how many were
// answered with 200 and how many failed. With -count it makes that many requests one after another and
// reports once, with the bodies; otherwise workers loop (each request on a new connection, so every one
// is routed afresh, as a new client's would be) until SIGTERM or -max, reporting every -report and once
// more at the end. With -admit it first waits until the server's port accepts connections: a
// NetworkPolicy enforcer refuses a new pod's connections until it has synced the pod's address, which says
// nothing about the server. The end-to-end suite runs it in a pod, as a client inside the cluster.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

type summary struct {
	Requests int      `json:"requests"`
	Failures int      `json:"failures"`
	Errors   []string `json:"errors"`
	Bodies   []string `json:"bodies,omitempty"`
	// When the first and the last failed request ended, in seconds since the start: how long an outage lasted.
	FirstFailure float64 `json:"firstFailure,omitempty"`
	LastFailure  float64 `json:"lastFailure,omitempty"`
	Seconds      float64 `json:"seconds"`
	Final        bool    `json:"final"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "httploop:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("httploop", flag.ContinueOnError)
	target := fs.String("url", "", "URL to GET")
	count := fs.Int("count", 0, "make this many requests in sequence, report them with their bodies, and exit")
	workers := fs.Int("workers", 4, "concurrent workers, when looping")
	maxDuration := fs.Duration("max", 5*time.Minute, "stop looping after this long even without a signal")
	pause := fs.Duration("pause", 10*time.Millisecond, "pause between one worker's requests")
	report := fs.Duration("report", time.Second, "how often to report while looping")
	admit := fs.Duration("admit", 0, "first wait up to this long for the URL's port to accept connections (no request is sent)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return fmt.Errorf("-url is required")
	}
	if *admit > 0 {
		if err := awaitAdmission(*target, *admit); err != nil {
			return err
		}
	}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	out := json.NewEncoder(os.Stdout)
	start := time.Now()

	if *count > 0 {
		s := summary{Final: true}
		for range *count {
			body, err := get(client, *target)
			s.add(err, time.Since(start))
			s.Bodies = append(s.Bodies, body)
		}
		s.Seconds = time.Since(start).Seconds()
		return out.Encode(s)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	ctx, cancelMax := context.WithTimeout(ctx, *maxDuration)
	defer cancelMax()

	var mu sync.Mutex
	var s summary
	snapshot := func(final bool) summary {
		mu.Lock()
		defer mu.Unlock()
		c := s
		c.Errors = append([]string(nil), s.Errors...)
		c.Seconds, c.Final = time.Since(start).Seconds(), final
		return c
	}
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := get(client, *target)
				mu.Lock()
				s.add(err, time.Since(start))
				mu.Unlock()
				time.Sleep(*pause)
			}
		})
	}
	ticker := time.NewTicker(*report)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := out.Encode(snapshot(false)); err != nil {
				return err
			}
		case <-ctx.Done():
			wg.Wait()
			return out.Encode(snapshot(true))
		}
	}
}

func (s *summary) add(err error, at time.Duration) {
	s.Requests++
	if err != nil {
		if s.Failures == 0 {
			s.FirstFailure = at.Seconds()
		}
		s.LastFailure = at.Seconds()
		s.Failures++
		if len(s.Errors) < 20 {
			s.Errors = append(s.Errors, err.Error())
		}
	}
}

// admittedAfter is how many connections in a row must be accepted. A Service spreads them over its pods, and
// each node's enforcer syncs a new client's address on its own: one accepted connection proves one node.
const admittedAfter = 20

// awaitAdmission dials the URL's host and port until admittedAfter connections in a row are accepted, each
// closed unused, so the server counts no request and logs none.
func awaitAdmission(target string, bound time.Duration) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	address := net.JoinHostPort(u.Hostname(), port)
	deadline := time.Now().Add(bound)
	accepted := 0
	for accepted < admittedAfter {
		conn, err := net.DialTimeout("tcp", address, time.Second)
		if err == nil {
			accepted++
			if err := conn.Close(); err != nil {
				return err
			}
		} else {
			accepted = 0
			if time.Now().After(deadline) {
				return fmt.Errorf("%s refused a connection %s in: %w", address, bound, err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// get is one request, judged as a user would: 200 is success, anything else a failure with its body.
func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("%s: %d %q", time.Now().Format(time.TimeOnly), resp.StatusCode, body)
	}
	return string(body), nil
}
