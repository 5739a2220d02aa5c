package main

import (
	"testing"
	"time"
)

func TestNewRateRule(t *testing.T) {
	tests := []struct {
		counter, wantMetric, wantErr string
		window                       time.Duration
	}{
		{counter: "http_requests_total", window: time.Minute, wantMetric: "http_requests_per_second"},
		{counter: "jobs:done_total", window: 2 * time.Second, wantMetric: "jobs:done_per_second"},
		{counter: "http_requests", window: time.Minute, wantErr: `--counter "http_requests": want a Prometheus counter name ending in _total`},
		{counter: "9_total", window: time.Minute, wantErr: `--counter "9_total": want a Prometheus counter name ending in _total`},
		{counter: "http_requests_total", window: time.Second, wantErr: "--rate-window 1s: want 2s or more"},
	}
	for _, tt := range tests {
		rule, err := newRateRule(tt.counter, tt.window)
		switch {
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("newRateRule(%q, %s) error = %v, want %q", tt.counter, tt.window, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("newRateRule(%q, %s) error = %v", tt.counter, tt.window, err)
		case tt.wantErr == "" && rule.metric != tt.wantMetric:
			t.Errorf("newRateRule(%q, %s) metric = %q, want %q", tt.counter, tt.window, rule.metric, tt.wantMetric)
		}
	}
}

func TestQuery(t *testing.T) {
	rule, err := newRateRule("http_requests_total", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := rule.query("shop", []string{"server-7d9-abcde", "server-7d9-fghij"})
	want := `sum by (pod) (rate(http_requests_total{namespace="shop",pod=~"server-7d9-abcde|server-7d9-fghij"}[30s]))`
	if got != want {
		t.Errorf("query = %s\nwant    %s", got, want)
	}
}
