// Package image tests llmmon's container image (make image): it runs as
// serve and as a gateway with the Docker engine, under the restrictions
// the Kubernetes gateway Deployment sets.
package image
