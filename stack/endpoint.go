package stack

import (
	"net"
	"strconv"
)

// Addresses across the line between this machine and the containers.

// HostGatewayFor decides what host.docker.internal resolves to in Prometheus.
func HostGatewayFor(info EngineInfo, network Object) string {
	switch {
	case info.DockerDesktop():
		return "" // Desktop resolves it itself
	case info.SupportsHostGateway():
		return HostGateway
	default:
		return network.Gateway // older engines: the bridge's gateway is the host
	}
}

// EndpointHost is where this machine reaches a port the engine publishes
// on bind: a remote engine's host; loopback for an unspecified address
// (0.0.0.0 → 127.0.0.1, :: → ::1); else bind itself. up, status and
// doctor all ask it, so they agree on every URL they print or probe.
func EndpointHost(bind string, info EngineInfo) string {
	if info.Remote() {
		return info.RemoteHost()
	}
	ip := net.ParseIP(bind)
	switch {
	case bind == "":
		return "127.0.0.1"
	case ip == nil:
		return bind
	case ip.IsUnspecified() && ip.To4() != nil:
		return "127.0.0.1"
	case ip.IsUnspecified():
		return "::1"
	}
	return bind
}

// EndpointURL is the http:// URL of a port published on bind, as this
// machine reaches it.
func EndpointURL(bind string, port int, info EngineInfo) string {
	return "http://" + net.JoinHostPort(EndpointHost(bind, info), strconv.Itoa(port))
}
