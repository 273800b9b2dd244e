package llmserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
	"github.com/llmmon/llmmon/stack/llmserver/sim"
)

// Server is one llmmon serve instance: its HTTP API, its registry and its
// backend.
type Server struct {
	opts     Options
	backend  backend.Backend
	registry *prometheus.Registry
	metrics  *serverMetrics
	genai    *genAIMetrics
	http     *httpMetrics
	log      *slog.Logger
	// provider is gen_ai_provider_name for requests no upstream answers
	// (the simulated engine's, or none in gateway mode).
	provider string
	metricsH http.Handler
	models   map[string]bool
	modelIDs []string
	created  int64
	draining atomic.Bool

	mu      sync.Mutex
	servers []*http.Server
	closed  bool
}

// New builds a Server from opts, starting the simulated engine unless
// opts.Backend is set.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{opts: opts, registry: reg, created: time.Now().Unix(), log: opts.Logger}
	s.metrics = newServerMetrics(reg)
	s.genai = newGenAIMetrics(reg)
	s.http = newHTTPMetrics(reg)
	if opts.Backend != nil {
		s.backend = opts.Backend
	} else {
		s.provider = llmmetrics.ProviderSimulated
		cfg := opts.Sim
		cfg.Model = opts.Model
		cfg.Registerer = reg
		fleet, err := sim.NewFleet(cfg)
		if err != nil {
			return nil, err
		}
		s.backend = fleet
	}
	s.modelIDs = s.backend.Models()
	s.models = make(map[string]bool, len(s.modelIDs))
	for _, m := range s.modelIDs {
		s.models[m] = true
		if opts.Backend == nil {
			s.genai.lookup(m, m, s.provider) // every model's series exist at 0
		}
	}
	s.metricsH = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          reg, // promhttp_metric_handler_errors_total
	})
	return s, nil
}

// Registry is the server's own Prometheus registry (never the global one).
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Handler is the whole HTTP API: /v1/*, /health and /metrics.
func (s *Server) Handler() http.Handler { return s }

// Serve serves on ln until ctx is cancelled. Then it stops accepting, lets
// in-flight requests finish for up to ShutdownTimeout, cuts the rest, closes
// the backend, and returns nil. It returns an error only if serving failed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		// No ReadTimeout/WriteTimeout: they would cut long streams. The body
		// read is bounded per request by BodyReadTimeout instead.
		MaxHeaderBytes: s.opts.MaxHeaderBytes,
		// Requests must outlive ctx, so in-flight streams finish on shutdown.
		BaseContext: func(net.Listener) context.Context { return context.Background() },
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return errors.New("llmserver: Serve after Close")
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()

	if s.opts.MaxConnections > 0 {
		ln = newLimitListener(ln, s.opts.MaxConnections)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close() // deadline passed: cut what is still running
	}
	<-errc
	return s.Close()
}

// Close stops serving at once and closes the backend. It is safe to call
// more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	servers := s.servers
	s.mu.Unlock()
	s.draining.Store(true)
	for _, hs := range servers {
		hs.Close()
	}
	return s.backend.Close()
}

func (s *Server) now() int64 { return time.Now().Unix() }
