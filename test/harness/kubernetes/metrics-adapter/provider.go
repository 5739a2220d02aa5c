package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	cmprovider "sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider/helpers"
)

var pods = schema.GroupResource{Resource: "pods"}

// rateRule is the one rule served: the per-second rate of a counter, per pod, under the counter's name
// with _total replaced by _per_second (prometheus-adapter's usual naming for it).
type rateRule struct {
	counter string
	metric  string
	window  time.Duration
}

var counterName = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)_total$`)

func newRateRule(counter string, window time.Duration) (rateRule, error) {
	m := counterName.FindStringSubmatch(counter)
	if m == nil {
		return rateRule{}, fmt.Errorf("--counter %q: want a Prometheus counter name ending in _total", counter)
	}
	if window < 2*time.Second {
		return rateRule{}, fmt.Errorf("--rate-window %s: want 2s or more", window)
	}
	return rateRule{counter: counter, metric: m[1] + "_per_second", window: window}, nil
}

// query is the PromQL for the named pods of one namespace: pod names are DNS labels, so they need no
// escaping inside the regular expression.
func (r rateRule) query(namespace string, names []string) string {
	return fmt.Sprintf(`sum by (pod) (rate(%s{namespace=%q,pod=~"%s"}[%s]))`,
		r.counter, namespace, strings.Join(names, "|"), model.Duration(r.window))
}

type provider struct {
	rule       rateRule
	prometheus promv1.API
	client     dynamic.Interface
	mapper     apimeta.RESTMapper
}

func (p *provider) ListAllMetrics() []cmprovider.CustomMetricInfo {
	return []cmprovider.CustomMetricInfo{{GroupResource: pods, Namespaced: true, Metric: p.rule.metric}}
}

func (p *provider) GetMetricByName(ctx context.Context, name types.NamespacedName, info cmprovider.CustomMetricInfo, _ labels.Selector) (*custom_metrics.MetricValue, error) {
	values, err := p.values(ctx, name.Namespace, []string{name.Name}, info)
	if err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return nil, cmprovider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
	}
	return &values[0], nil
}

func (p *provider) GetMetricBySelector(ctx context.Context, namespace string, selector labels.Selector, info cmprovider.CustomMetricInfo, _ labels.Selector) (*custom_metrics.MetricValueList, error) {
	names, err := helpers.ListObjectNames(p.mapper, p.client, namespace, selector, info)
	if err != nil {
		return nil, err
	}
	values, err := p.values(ctx, namespace, names, info)
	if err != nil {
		return nil, err
	}
	return &custom_metrics.MetricValueList{Items: values}, nil
}

// values answers for the pods Prometheus has a rate for; a pod it has not scraped yet is left out, as
// prometheus-adapter leaves it out, and the autoscaler then assumes the least for it.
func (p *provider) values(ctx context.Context, namespace string, names []string, info cmprovider.CustomMetricInfo) ([]custom_metrics.MetricValue, error) {
	if info.GroupResource != pods || info.Metric != p.rule.metric {
		return nil, cmprovider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	if len(names) == 0 {
		return []custom_metrics.MetricValue{}, nil
	}
	result, _, err := p.prometheus.Query(ctx, p.rule.query(namespace, names), time.Now())
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("querying Prometheus: %v", err))
	}
	vector, ok := result.(model.Vector)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("prometheus answered a %s, want a vector", result.Type()))
	}
	return p.metricValues(namespace, vector, info)
}

func (p *provider) metricValues(namespace string, vector model.Vector, info cmprovider.CustomMetricInfo) ([]custom_metrics.MetricValue, error) {
	values := make([]custom_metrics.MetricValue, 0, len(vector))
	for _, sample := range vector {
		pod := string(sample.Metric["pod"])
		ref, err := helpers.ReferenceFor(p.mapper, types.NamespacedName{Namespace: namespace, Name: pod}, info)
		if err != nil {
			return nil, err
		}
		values = append(values, custom_metrics.MetricValue{
			DescribedObject: ref,
			Metric:          custom_metrics.MetricIdentifier{Name: info.Metric},
			Timestamp:       metav1.NewTime(sample.Timestamp.Time()),
			WindowSeconds:   ptr(int64(p.rule.window.Seconds())),
			Value:           *resource.NewMilliQuantity(int64(float64(sample.Value)*1000), resource.DecimalSI),
		})
	}
	return values, nil
}

func ptr[T any](v T) *T { return &v }
