// Package intmetric holds the Prometheus histograms, counters and gauges on
// serve's per-request path. They count in integer atomics: an observation is one
// bucket add and one sum add, where client_golang's histogram does four
// atomic operations, one of them a compare-and-swap loop on the float sum,
// all on cache lines every core shares (its gauges' Inc and Dec are such
// loops too). And each series keeps one copy of its counts per P (up to
// percpu.Max), each on cache lines of its own, summed at scrape time: a
// cache line moving between cores costs more than the rest of an
// observation on virtual machines (BenchmarkObserve, on two cores: a
// request's observations cost 2.1–2.9 µs with client_golang, 0.14–0.56 µs
// here).
//
// What a scrape sees is the same classic histogram, counter or gauge: the
// same name, help, labels, buckets, _sum, _count and created timestamp.
// The price: a histogram's sum is kept in whole multiples of a quantum
// (1 ns for seconds, 1 for tokens and bytes), and a scrape that races an
// observation may see its bucket before its sum. _count is always the
// +Inf bucket, since both are the sum of the buckets read once.
package intmetric

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmmon/llmmon/internal/percpu"
)

// Quanta of the histograms' sums.
const (
	Nanosecond = 1e-9 // for seconds
	Unit       = 1.0  // for tokens and bytes
)

// HistogramVec is a family of classic histograms, one per label set.
type HistogramVec struct {
	bounds  []float64 // upper bounds, ascending, without +Inf
	quantum float64
	family[Histogram]
}

// NewHistogramVec is prometheus.NewHistogramVec with the sum kept in
// multiples of quantum. Buckets must be set and ascending.
func NewHistogramVec(opts prometheus.HistogramOpts, labels []string, quantum float64) *HistogramVec {
	if len(opts.Buckets) == 0 || !slices.IsSorted(opts.Buckets) || quantum <= 0 {
		panic("intmetric: " + opts.Name + ": buckets must be set and ascending, and the quantum positive")
	}
	bounds := slices.Clone(opts.Buckets)
	if math.IsInf(bounds[len(bounds)-1], +1) {
		bounds = bounds[:len(bounds)-1]
	}
	v := &HistogramVec{bounds: bounds, quantum: quantum}
	v.init(opts.Namespace, opts.Subsystem, opts.Name, opts.Help, labels, opts.ConstLabels, func(lvs []string) *Histogram {
		stride := padded(len(bounds) + 2)
		return &Histogram{vec: v, lvs: lvs, stride: stride, counts: make([]atomic.Uint64, percpu.N*stride), created: time.Now()}
	}, (*Histogram).metric)
	return v
}

// Histogram is one label set's histogram.
type Histogram struct {
	vec *HistogramVec
	lvs []string
	// counts are, per shard, the buckets (+Inf's included), then the sum
	// in quanta (two's complement), padded to stride: whole cache lines,
	// the only memory an observation writes, shared with no other series
	// or shard.
	counts  []atomic.Uint64
	stride  int
	created time.Time
}

// cacheLine is a multiple of every common CPU's cache line (and of the
// pair of lines x86 fetches together).
const cacheLine = 128

// padded rounds n counters up to whole cache lines; allocations of a
// multiple of 128 bytes start on a 128-byte boundary in Go's allocator.
func padded(n int) int {
	const per = cacheLine / 8
	return (n + per - 1) / per * per
}

// Observe counts v in the first bucket whose bound is at least v, as
// Prometheus does (NaN goes to +Inf and adds nothing to the sum).
func (h *Histogram) Observe(v float64) {
	b := h.vec.bounds
	i := 0
	for i < len(b) && !(v <= b[i]) { // a dozen bounds: a scan beats a binary search
		i++
	}
	c := h.counts[percpu.Shard()*h.stride:]
	c[i].Add(1)
	if q := v / h.vec.quantum; q == q { // not NaN
		c[len(b)+1].Add(uint64(int64(math.Round(max(min(q, math.MaxInt64/2), math.MinInt64/2)))))
	}
}

func (h *Histogram) metric(desc *prometheus.Desc) prometheus.Metric {
	v := h.vec
	counts := make([]uint64, len(v.bounds)+2)
	for s := range percpu.N {
		for i := range counts {
			counts[i] += h.counts[s*h.stride+i].Load()
		}
	}
	buckets := make(map[float64]uint64, len(v.bounds))
	var n uint64
	for i, bound := range v.bounds {
		n += counts[i]
		buckets[bound] = n
	}
	n += counts[len(v.bounds)]
	sum := float64(int64(counts[len(v.bounds)+1])) * v.quantum
	m, err := prometheus.NewConstHistogramWithCreatedTimestamp(desc, n, sum, buckets, h.created, h.lvs...)
	if err != nil { // the scrape reports it; serving goes on
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

// GaugeVec is a family of integer gauges, one per label set.
type GaugeVec struct{ family[Gauge] }

// NewGaugeVec is prometheus.NewGaugeVec for gauges that only count.
func NewGaugeVec(opts prometheus.GaugeOpts, labels []string) *GaugeVec {
	v := &GaugeVec{}
	v.init(opts.Namespace, opts.Subsystem, opts.Name, opts.Help, labels, opts.ConstLabels,
		func(lvs []string) *Gauge { return &Gauge{newInts(lvs)} },
		func(g *Gauge, d *prometheus.Desc) prometheus.Metric { return g.metric(d, prometheus.GaugeValue) })
	return v
}

// Gauge is one label set's gauge.
type Gauge struct{ ints }

func (g *Gauge) Inc() { g.add(1) }
func (g *Gauge) Dec() { g.add(-1) }

// CounterVec is a family of integer counters, one per label set.
type CounterVec struct{ family[Counter] }

// NewCounterVec is prometheus.NewCounterVec for counters of whole things.
func NewCounterVec(opts prometheus.CounterOpts, labels []string) *CounterVec {
	v := &CounterVec{}
	v.init(opts.Namespace, opts.Subsystem, opts.Name, opts.Help, labels, opts.ConstLabels,
		func(lvs []string) *Counter { return &Counter{newInts(lvs)} },
		func(c *Counter, d *prometheus.Desc) prometheus.Metric { return c.metric(d, prometheus.CounterValue) })
	return v
}

// Counter is one label set's counter.
type Counter struct{ ints }

func (c *Counter) Inc() { c.add(1) }

// Add adds n, which must not be negative: a counter never goes down.
func (c *Counter) Add(n int) {
	if n < 0 {
		panic("intmetric: a counter cannot decrease")
	}
	c.add(int64(n))
}

// ints is a gauge's or counter's value, one part per shard.
type ints struct {
	lvs     []string
	n       []paddedInt
	created time.Time
}

// paddedInt fills its cache lines alone.
type paddedInt struct {
	atomic.Int64
	_ [cacheLine - 8]byte
}

func newInts(lvs []string) ints {
	return ints{lvs: lvs, n: make([]paddedInt, percpu.N), created: time.Now()}
}

func (s *ints) add(d int64) { s.n[percpu.Shard()].Add(d) }

// Value is the value now.
func (s *ints) Value() int64 {
	var n int64
	for i := range s.n {
		n += s.n[i].Load()
	}
	return n
}

// metric is the value as a scrape shows it; a counter's with its created
// timestamp, as client_golang's.
func (s *ints) metric(desc *prometheus.Desc, kind prometheus.ValueType) prometheus.Metric {
	v := float64(s.Value())
	m, err := prometheus.NewConstMetric(desc, kind, v, s.lvs...)
	if kind == prometheus.CounterValue {
		m, err = prometheus.NewConstMetricWithCreatedTimestamp(desc, kind, v, s.created, s.lvs...)
	}
	if err != nil { // the scrape reports it; serving goes on
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

// family is a vec's children by label values, and what the vec's
// prometheus.Collector methods need. Lookups take a lock: the hot path
// keeps its children instead of looking them up.
type family[T any] struct {
	desc   *prometheus.Desc
	labels int
	make   func(lvs []string) *T
	metric func(*T, *prometheus.Desc) prometheus.Metric
	mu     sync.Mutex
	byKey  map[string]*T
	order  []*T
}

func (f *family[T]) init(namespace, subsystem, name, help string, labels []string, constLabels prometheus.Labels,
	mk func([]string) *T, metric func(*T, *prometheus.Desc) prometheus.Metric) {
	f.desc = prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, labels, constLabels)
	f.labels, f.make, f.metric, f.byKey = len(labels), mk, metric, map[string]*T{}
}

// WithLabelValues returns the series of these label values, creating it
// (at 0) the first time. Callers on a hot path keep what it returns.
func (f *family[T]) WithLabelValues(lvs ...string) *T { return f.get(lvs) }

// Describe implements prometheus.Collector.
func (f *family[T]) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect implements prometheus.Collector.
func (f *family[T]) Collect(ch chan<- prometheus.Metric) {
	for _, c := range f.all() {
		ch <- f.metric(c, f.desc)
	}
}

func (f *family[T]) get(lvs []string) *T {
	// As client_golang's WithLabelValues: a caller's bug, caught where it is.
	if len(lvs) != f.labels {
		panic(fmt.Sprintf("intmetric: %d label values for %d labels", len(lvs), f.labels))
	}
	for _, lv := range lvs {
		if !utf8.ValidString(lv) {
			panic(fmt.Sprintf("intmetric: label value %q is not valid UTF-8", lv))
		}
	}
	key := strings.Join(lvs, "\xff")
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.byKey[key]; c != nil {
		return c
	}
	c := f.make(slices.Clone(lvs))
	f.byKey[key] = c
	f.order = append(f.order, c)
	return c
}

func (f *family[T]) all() []*T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.order)
}
