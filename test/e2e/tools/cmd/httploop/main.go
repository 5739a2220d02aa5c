// Command httploop sends GET requests to one URL from a few workers, each on a new connection (so
// every request is routed afresh, as a new client's would be), until SIGTERM or -max, then prints a
// JSON summary. The end-to-end suite runs it inside the cluster's network during a rollout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
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
	Seconds  float64  `json:"seconds"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "httploop:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("httploop", flag.ContinueOnError)
	url := fs.String("url", "", "URL to GET")
	workers := fs.Int("workers", 4, "concurrent workers")
	maxDuration := fs.Duration("max", 5*time.Minute, "stop after this long even without a signal")
	pause := fs.Duration("pause", 10*time.Millisecond, "pause between one worker's requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("-url is required")
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	ctx, cancelMax := context.WithTimeout(ctx, *maxDuration)
	defer cancelMax()

	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var mu sync.Mutex
	var s summary
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		s.Requests++
		if err != nil {
			s.Failures++
			if len(s.Errors) < 20 {
				s.Errors = append(s.Errors, err.Error())
			}
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				record(get(client, *url))
				time.Sleep(*pause)
			}
		})
	}
	wg.Wait()
	s.Seconds = time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(s)
}

// get is one request, judged as a user would: a 200 whose body is the app's greeting.
func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %q", time.Now().Format(time.TimeOnly), resp.StatusCode, body)
	}
	return nil
}
