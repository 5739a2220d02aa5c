// The shapes of Kubernetes object names, as the API server checks them.

/** An RFC 1123 label: a namespace, a Service, a container, a listener. @internal */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** An RFC 1123 subdomain of at most 253 characters: most other object names. @internal */
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
