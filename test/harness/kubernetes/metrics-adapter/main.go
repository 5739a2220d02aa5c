// Command metrics-adapter serves the custom metrics API (custom.metrics.k8s.io) from Prometheus, as
// prometheus-adapter does for the rule teams write for request rates: each pod's <name>_total counter,
// as a per-second rate, is the pod metric <name>_per_second. prometheus-adapter is not served by the Go
// module proxy here; this is the end-to-end suite's stand-in for it, on the same library
// (sigs.k8s.io/custom-metrics-apiserver), so the HorizontalPodAutoscaler the component makes reads
// exactly what it would read on a cluster running prometheus-adapter.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"k8s.io/component-base/logs"
	"k8s.io/klog/v2"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "metrics-adapter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	logs.InitLogs()
	defer logs.FlushLogs()

	cmd := &basecmd.AdapterBase{Name: "dockyard-e2e-metrics-adapter"}
	var prometheusURL, counter string
	var window time.Duration
	cmd.Flags().StringVar(&prometheusURL, "prometheus-url", "", "the Prometheus whose HTTP API answers the queries")
	cmd.Flags().StringVar(&counter, "counter", "http_requests_total", "the per-pod counter served as a rate: <name>_total becomes <name>_per_second")
	cmd.Flags().DurationVar(&window, "rate-window", time.Minute, "the range of the rate() over the counter")
	if err := cmd.Flags().Parse(args); err != nil {
		return err
	}
	rule, err := newRateRule(counter, window)
	if err != nil {
		return err
	}
	client, err := api.NewClient(api.Config{Address: prometheusURL})
	if err != nil {
		return fmt.Errorf("prometheus client: %w", err)
	}
	dynamic, err := cmd.DynamicClient()
	if err != nil {
		return err
	}
	mapper, err := cmd.RESTMapper()
	if err != nil {
		return err
	}
	cmd.WithCustomMetrics(&provider{rule: rule, prometheus: promv1.NewAPI(client), client: dynamic, mapper: mapper})
	klog.Infof("serving %s as the pod metric %s, from %s", rule.counter, rule.metric, prometheusURL)
	return cmd.Run(ctx)
}
