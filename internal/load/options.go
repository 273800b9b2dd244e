package load

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
)

// Endpoints the generator can drive.
const (
	EndpointChat        = "chat"        // POST {url}/chat/completions
	EndpointCompletions = "completions" // POST {url}/completions
)

// Options shape the load. Rate > 0 selects the open loop (Poisson arrivals);
// otherwise Concurrency workers run a closed loop.
type Options struct {
	URL      string // API base, such as http://127.0.0.1:8000/v1
	Model    string // empty: the first model /models lists
	APIKey   string // sent as a Bearer token when set
	Endpoint string // EndpointChat or EndpointCompletions
	Stream   bool

	MaxTokens    int
	PromptTokens Range  // prompt length in tokens, drawn uniformly per request
	Prompt       string // a fixed prompt for every request instead (servers may cache it)
	// Dataset, when set, gives the prompts instead, taken in turn (see
	// LoadDataset); an entry's MaxTokens, when set, replaces MaxTokens.
	Dataset []Prompt
	// IgnoreEOS sends vLLM's ignore_eos, so answers run to max_tokens.
	IgnoreEOS bool

	// SLOs for goodput: a request is good when it succeeded and meets every
	// one that is set (time to first token, time per output token).
	SLOTTFT, SLOTPOT time.Duration

	Rate        float64 // open loop: mean arrivals per second
	Concurrency int     // closed loop: requests kept in flight
	MaxInFlight int     // open loop: arrivals beyond this many in flight are dropped and counted
	// WaitForSlot: open-loop arrivals beyond MaxInFlight wait for a request
	// to finish instead of being dropped (vllm bench serve's
	// --max-concurrency with --request-rate).
	WaitForSlot bool

	Requests int // stop after this many requests (0: no limit)
	// Duration bounds the run (0: no limit): no request starts after it,
	// and those still in flight are abandoned and counted as cancelled.
	Duration time.Duration
	Timeout  time.Duration // per request
	// SSE bounds a streamed answer's lines and events; beyond them the
	// request fails as bad_response (zero: the wire package's defaults).
	SSE  openai.Limits
	Seed uint64 // seeds the arrival process (0: random), for repeatable open-loop runs

	// Transport, when set, carries the https:// and proxied requests
	// (custom TLS, say); otherwise a tuned net/http Transport does. Plain
	// http:// goes over the generator's own lean connections
	// (openai.Client).
	Transport http.RoundTripper

	// Progress, when set, is called every ProgressEvery while the load runs.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// DefaultOptions are a short, gentle run: enough traffic to make metrics
// appear on a dashboard without loading a real server hard.
func DefaultOptions() Options {
	return Options{
		URL:           "http://127.0.0.1:8000/v1",
		Endpoint:      EndpointChat,
		Stream:        true,
		MaxTokens:     128,
		PromptTokens:  Range{Min: 128, Max: 128},
		Concurrency:   4,
		MaxInFlight:   1000,
		Requests:      100,
		Timeout:       5 * time.Minute,
		ProgressEvery: time.Second,
	}
}

// MaxRate is the highest --rate: one arrival per microsecond, beyond what
// one generator can send, and far beyond what a server answers.
const MaxRate = 1e6

// Range is an inclusive integer range; Min == Max is a fixed value.
type Range struct{ Min, Max int }

// ParseRange reads "128" or "64-256".
func ParseRange(s string) (Range, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	min, err1 := strconv.Atoi(strings.TrimSpace(lo))
	max, err2 := min, error(nil)
	if isRange {
		max, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || min < 1 || max < min {
		return Range{}, fmt.Errorf("invalid %q: want a positive count like 128 or a range like 64-256", s)
	}
	return Range{Min: min, Max: max}, nil
}

func (r Range) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// Validate names the flag to fix.
func (o Options) Validate() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid --url %q: want an API base like http://127.0.0.1:8000/v1", o.URL)
	}
	switch {
	case strings.ContainsAny(o.APIKey, "\r\n"):
		return fmt.Errorf("invalid --api-key: it contains a line break")
	case o.Endpoint != EndpointChat && o.Endpoint != EndpointCompletions:
		return fmt.Errorf("invalid --endpoint %q: want chat or completions", o.Endpoint)
	case o.MaxTokens < 1:
		return fmt.Errorf("invalid --max-tokens %d: want at least 1", o.MaxTokens)
	case o.PromptTokens.Min < 1 || o.PromptTokens.Max < o.PromptTokens.Min:
		return fmt.Errorf("invalid --prompt-tokens %s: want a positive count like 128 or a range like 64-256", o.PromptTokens)
	case o.Rate < 0 || o.Rate != o.Rate:
		return fmt.Errorf("invalid --rate %g: want requests per second above 0", o.Rate)
	case o.Rate > MaxRate:
		return fmt.Errorf("invalid --rate %g: at most %g requests/s can be scheduled; to load a server as hard as it goes, use --concurrency", o.Rate, float64(MaxRate))
	case o.Rate == 0 && o.Concurrency < 1:
		return fmt.Errorf("invalid --concurrency %d: want at least 1", o.Concurrency)
	case o.Rate > 0 && o.MaxInFlight < 1:
		return fmt.Errorf("invalid --max-in-flight %d: want at least 1", o.MaxInFlight)
	case o.Requests < 0:
		return fmt.Errorf("invalid --requests %d: want at least 1", o.Requests)
	case o.Duration < 0:
		return fmt.Errorf("invalid --duration %s: want a positive duration like 30s", o.Duration)
	case o.Requests == 0 && o.Duration == 0:
		return fmt.Errorf("no stopping point: pass --requests N or --duration D")
	case o.Timeout <= 0:
		return fmt.Errorf("invalid --timeout %s: want a positive duration like 5m", o.Timeout)
	case o.SLOTTFT < 0 || o.SLOTPOT < 0:
		return fmt.Errorf("invalid --slo-ttft/--slo-tpot: want a positive duration like 500ms")
	case (o.SLOTTFT > 0 || o.SLOTPOT > 0) && !o.Stream:
		return fmt.Errorf("--slo-ttft and --slo-tpot need streamed answers to measure: drop --stream=false")
	case o.Prompt != "" && len(o.Dataset) > 0:
		return fmt.Errorf("--prompt (one fixed text) and --dataset exclude each other; pass one")
	}
	if o.Endpoint == EndpointCompletions {
		for i, p := range o.Dataset {
			if p.Messages != nil {
				return fmt.Errorf("the dataset's entry %d is a chat messages array, which /completions cannot take: use --endpoint chat", i+1)
			}
		}
	}
	return nil
}

// Mode names the arrival process for reports.
func (o Options) Mode() string {
	if o.Rate > 0 {
		return "rate"
	}
	return "concurrency"
}
