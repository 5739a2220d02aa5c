// Command k8scheck validates Kubernetes objects offline, for the test suite.
//
// It reads a JSON array of objects on stdin and prints, as JSON, the problems
// found in each: fields the official API types do not have (a misspelt key is
// silently dropped by a real API server's non-strict paths, so it is caught
// here), values of the wrong type, and pod templates that break the Pod
// Security Standards "restricted" profile, judged by the upstream
// pod-security-admission library at its latest version.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	kjson "sigs.k8s.io/json"
)

// Result is what k8scheck reports for one object.
type Result struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Problems []string `json:"problems"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "k8scheck:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	var objects []json.RawMessage
	if err := json.NewDecoder(in).Decode(&objects); err != nil {
		return fmt.Errorf("stdin: want a JSON array of objects: %w", err)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return err
	}
	results := make([]Result, 0, len(objects))
	for _, raw := range objects {
		results = append(results, check(raw, evaluator))
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

func check(raw json.RawMessage, evaluator policy.Evaluator) Result {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &head)
	result := Result{Kind: head.Kind, Name: head.Metadata.Name, Problems: []string{}}

	var obj any
	var pod func() (*metav1.ObjectMeta, *corev1.PodSpec)
	switch head.APIVersion + "/" + head.Kind {
	case "apps/v1/Deployment":
		d := &appsv1.Deployment{}
		obj, pod = d, func() (*metav1.ObjectMeta, *corev1.PodSpec) {
			return &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec
		}
	case "batch/v1/Job":
		j := &batchv1.Job{}
		obj, pod = j, func() (*metav1.ObjectMeta, *corev1.PodSpec) {
			return &j.Spec.Template.ObjectMeta, &j.Spec.Template.Spec
		}
	case "v1/Pod":
		p := &corev1.Pod{}
		obj, pod = p, func() (*metav1.ObjectMeta, *corev1.PodSpec) { return &p.ObjectMeta, &p.Spec }
	case "v1/Service":
		obj = &corev1.Service{}
	case "v1/Namespace":
		obj = &corev1.Namespace{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1/PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	default:
		result.Problems = append(result.Problems, fmt.Sprintf("unsupported kind %s %s", head.APIVersion, head.Kind))
		return result
	}

	strict, err := kjson.UnmarshalStrict(raw, obj, kjson.DisallowUnknownFields)
	if err != nil {
		result.Problems = append(result.Problems, "schema: "+err.Error())
		return result
	}
	for _, e := range strict {
		result.Problems = append(result.Problems, "schema: "+e.Error())
	}
	if pod == nil {
		return result
	}
	meta, spec := pod()
	level := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, r := range evaluator.EvaluatePod(level, meta, spec) {
		if !r.Allowed {
			result.Problems = append(result.Problems, fmt.Sprintf("pod security restricted: %s (%s)", r.ForbiddenReason, r.ForbiddenDetail))
		}
	}
	return result
}
