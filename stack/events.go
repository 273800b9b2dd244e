package stack

import "time"

// Event is one thing up does or sees, reported as it happens. The CLI
// draws events (marks, colour, a spinner); stack never writes to a
// terminal. Every event type is listed below.
type Event interface{ upEvent() }

// Action is what up did with one engine object.
type Action struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	Verb string `json:"verb"` // created, recreated, started, restarted, resumed, removed, unchanged
}

// Notice is something the user should know that is not a failure.
type Notice struct{ Text string }

// Pulling says up pulls an image; the engine reports the pull's own
// progress to UpOptions.PullProgress.
type Pulling struct{ Image string }

// Waiting starts the readiness wait, bounded by Timeout (--wait).
type Waiting struct {
	Timeout time.Duration
	Probes  []ProbeInfo
}

// ProbeInfo names one readiness check: the component and what is asked.
type ProbeInfo struct {
	Component string // prometheus, grafana
	Endpoint  string // /-/ready, /api/health
}

// StillWaiting comes about four times a second while some component is
// not ready yet.
type StillWaiting struct {
	Pending []string // components, in probe order
	Elapsed time.Duration
}

// Ready is a component answering its readiness check.
type Ready struct {
	Component string
	URL       string
	Elapsed   time.Duration
}

// DatasourceHealthy is Grafana querying Prometheus through the stack's
// datasource: the Grafana → Prometheus path works.
type DatasourceHealthy struct {
	UID     string
	URL     string // where Grafana reaches Prometheus (DatasourceURL)
	Elapsed time.Duration
}

func (Notice) upEvent()            {}
func (Pulling) upEvent()           {}
func (Action) upEvent()            {}
func (Waiting) upEvent()           {}
func (StillWaiting) upEvent()      {}
func (Ready) upEvent()             {}
func (DatasourceHealthy) upEvent() {}
