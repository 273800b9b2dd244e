package stack

import "testing"

// up, status and doctor print and probe the URLs EndpointHost gives.
func TestEndpointHost(t *testing.T) {
	local := EngineInfo{Host: "unix:///var/run/docker.sock"}
	tests := []struct {
		bind string
		info EngineInfo
		want string
	}{
		{"127.0.0.1", local, "127.0.0.1"},
		{"0.0.0.0", local, "127.0.0.1"},
		{"::", local, "::1"},
		{"", local, "127.0.0.1"},
		{"10.0.0.5", local, "10.0.0.5"},
		{"::1", local, "::1"},
		{"127.0.0.1", EngineInfo{}, "127.0.0.1"}, // DOCKER_HOST unset: the local socket
		{"0.0.0.0", EngineInfo{Host: "tcp://10.9.8.7:2376"}, "10.9.8.7"},
		{"::", EngineInfo{Host: "ssh://me@gpu-box"}, "gpu-box"},
		{"127.0.0.1", EngineInfo{Host: "tcp://[fd00::7]:2376"}, "fd00::7"},
	}
	for _, tt := range tests {
		if got := EndpointHost(tt.bind, tt.info); got != tt.want {
			t.Errorf("EndpointHost(%q, %q) = %q, want %q", tt.bind, tt.info.Host, got, tt.want)
		}
	}
	if got := EndpointURL("::", 9090, local); got != "http://[::1]:9090" {
		t.Errorf("EndpointURL = %q", got)
	}
}
