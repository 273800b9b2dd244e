package intmetric

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// What a scrape sees must be what client_golang's histogram shows for the
// same observations: bounds hit exactly, values past every bound, zero,
// negatives and NaN included.
func TestHistogramExposesWhatClientGolangDoes(t *testing.T) {
	opts := prometheus.HistogramOpts{Name: "x_seconds", Help: "X.", Buckets: buckets}
	ours := NewHistogramVec(opts, []string{"a", "b"}, Nanosecond)
	theirs := prometheus.NewHistogramVec(opts, []string{"a", "b"})
	values := []float64{0, 0.005, 0.0050000001, 0.01, 0.3, 1, 1, 2.5, 9.999, 10, 10.5, 300, -0.2, 0.123456789}
	for i, v := range values {
		lvs := []string{"m", []string{"x", "y"}[i%2]}
		ours.WithLabelValues(lvs...).Observe(v)
		theirs.WithLabelValues(lvs...).Observe(v)
	}
	ours.WithLabelValues("untouched", "x")
	theirs.WithLabelValues("untouched", "x")

	got, want := gather(t, ours), gather(t, theirs)
	if len(got) != 1 || len(want) != 1 {
		t.Fatalf("families: got %d, want 1 (client_golang: %d)", len(got), len(want))
	}
	g, w := got[0], want[0]
	if g.GetName() != w.GetName() || g.GetHelp() != w.GetHelp() || g.GetType() != w.GetType() {
		t.Fatalf("family: got %s %q %v, want %s %q %v", g.GetName(), g.GetHelp(), g.GetType(), w.GetName(), w.GetHelp(), w.GetType())
	}
	if len(g.Metric) != 3 || len(g.Metric) != len(w.Metric) {
		t.Fatalf("series: got %d, client_golang %d, want 3", len(g.Metric), len(w.Metric))
	}
	for i := range g.Metric {
		gm, wm := g.Metric[i], w.Metric[i]
		if labels(gm) != labels(wm) {
			t.Fatalf("series %d: labels %s, want %s", i, labels(gm), labels(wm))
		}
		gh, wh := gm.GetHistogram(), wm.GetHistogram()
		if gh.GetSampleCount() != wh.GetSampleCount() {
			t.Errorf("%s: count %d, want %d", labels(gm), gh.GetSampleCount(), wh.GetSampleCount())
		}
		if math.Abs(gh.GetSampleSum()-wh.GetSampleSum()) > 1e-9*float64(len(values)) {
			t.Errorf("%s: sum %v, want %v", labels(gm), gh.GetSampleSum(), wh.GetSampleSum())
		}
		if len(gh.Bucket) != len(wh.Bucket) {
			t.Fatalf("%s: %d buckets, want %d", labels(gm), len(gh.Bucket), len(wh.Bucket))
		}
		for j := range gh.Bucket {
			gb, wb := gh.Bucket[j], wh.Bucket[j]
			if gb.GetUpperBound() != wb.GetUpperBound() || gb.GetCumulativeCount() != wb.GetCumulativeCount() {
				t.Errorf("%s: bucket le=%v count %d, want le=%v count %d", labels(gm),
					gb.GetUpperBound(), gb.GetCumulativeCount(), wb.GetUpperBound(), wb.GetCumulativeCount())
			}
		}
		if gh.GetCreatedTimestamp() == nil {
			t.Errorf("%s: no created timestamp", labels(gm))
		}
	}
}

// NaN lands in +Inf, as client_golang puts it, and leaves the sum alone
// (client_golang's becomes NaN for good).
func TestHistogramNaN(t *testing.T) {
	v := NewHistogramVec(prometheus.HistogramOpts{Name: "n", Help: "N.", Buckets: buckets}, nil, Unit)
	h := v.WithLabelValues()
	h.Observe(3)
	h.Observe(math.NaN())
	m := gather(t, v)[0].Metric[0].GetHistogram()
	if m.GetSampleCount() != 2 || m.GetSampleSum() != 3 {
		t.Fatalf("count %d sum %v, want 2 and 3", m.GetSampleCount(), m.GetSampleSum())
	}
	if last := m.Bucket[len(m.Bucket)-1]; last.GetCumulativeCount() != 1 {
		t.Fatalf("le=%v holds %d, want 1: NaN is beyond every bound", last.GetUpperBound(), last.GetCumulativeCount())
	}
}

// Counts and sums stay exact with every core observing at once.
func TestConcurrentObservationsAreExact(t *testing.T) {
	hv := NewHistogramVec(prometheus.HistogramOpts{Name: "tokens", Help: "T.", Buckets: []float64{1, 4, 16, 64}}, []string{"k"}, Unit)
	gv := NewGaugeVec(prometheus.GaugeOpts{Name: "active", Help: "A."}, []string{"k"})
	cv := NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "R."}, []string{"k"})
	const workers, each = 8, 20000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			h, g, c := hv.WithLabelValues("k"), gv.WithLabelValues("k"), cv.WithLabelValues("k")
			for i := range each {
				g.Inc()
				h.Observe(float64((w + i) % 100))
				c.Inc()
				c.Add(2)
				g.Dec()
			}
		})
	}
	wg.Wait()
	want := 0.0
	for w := range workers {
		for i := range each {
			want += float64((w + i) % 100)
		}
	}
	m := gather(t, hv)[0].Metric[0].GetHistogram()
	if m.GetSampleCount() != workers*each || m.GetSampleSum() != want {
		t.Fatalf("count %d sum %v, want %d and %v", m.GetSampleCount(), m.GetSampleSum(), workers*each, want)
	}
	if v := gv.WithLabelValues("k").Value(); v != 0 {
		t.Fatalf("gauge %d after as many Dec as Inc, want 0", v)
	}
	if v := cv.WithLabelValues("k").Value(); v != 3*workers*each {
		t.Fatalf("counter %d, want %d", v, 3*workers*each)
	}
}

func TestCounterExposition(t *testing.T) {
	v := NewCounterVec(prometheus.CounterOpts{Name: "llm_requests_total", Help: "LLM requests."}, []string{"endpoint", "status"})
	v.WithLabelValues("stream", "success").Add(41)
	v.WithLabelValues("stream", "success").Inc()
	v.WithLabelValues("stream", "error")
	want := `# HELP llm_requests_total LLM requests.
# TYPE llm_requests_total counter
llm_requests_total{endpoint="stream",status="error"} 0
llm_requests_total{endpoint="stream",status="success"} 42
`
	if err := testutil.CollectAndCompare(v, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	m := gather(t, v)[0].Metric[0]
	if m.GetCounter().GetCreatedTimestamp() == nil {
		t.Fatal("no created timestamp")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Add(-1) did not panic: a counter cannot decrease")
		}
	}()
	v.WithLabelValues("stream", "error").Add(-1)
}

func TestGaugeExposition(t *testing.T) {
	v := NewGaugeVec(prometheus.GaugeOpts{Name: "llm_active_requests", Help: "Requests in flight."}, []string{"endpoint"})
	v.WithLabelValues("stream").Inc()
	v.WithLabelValues("stream").Inc()
	v.WithLabelValues("nonstream")
	want := `# HELP llm_active_requests Requests in flight.
# TYPE llm_active_requests gauge
llm_active_requests{endpoint="nonstream"} 0
llm_active_requests{endpoint="stream"} 2
`
	if err := testutil.CollectAndCompare(v, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestBadLabelValuesPanicWhereTheyAreGiven(t *testing.T) {
	v := NewGaugeVec(prometheus.GaugeOpts{Name: "g", Help: "G."}, []string{"a"})
	for _, lvs := range [][]string{{}, {"a", "b"}, {"\xff"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithLabelValues(%q) did not panic", lvs)
				}
			}()
			v.WithLabelValues(lvs...)
		}()
	}
}

// BenchmarkObserve is one request's observations as serve makes them, on
// every core at once: ten histograms observed once each and two gauges
// up and down, client_golang's against this package's.
func BenchmarkObserve(b *testing.B) {
	opts := prometheus.HistogramOpts{Name: "x", Help: "X.", Buckets: buckets}
	gopts := prometheus.GaugeOpts{Name: "g", Help: "G."}
	b.Run("client_golang", func(b *testing.B) {
		var hs []observer
		var gs []upDown
		for i := range 10 {
			hs = append(hs, prometheus.NewHistogramVec(opts, []string{"k"}).WithLabelValues("k"))
			if i < 2 {
				gs = append(gs, prometheus.NewGaugeVec(gopts, []string{"k"}).WithLabelValues("k"))
			}
		}
		observeAsARequest(b, hs, gs)
	})
	b.Run("intmetric", func(b *testing.B) {
		var hs []observer
		var gs []upDown
		for i := range 10 {
			hs = append(hs, NewHistogramVec(opts, []string{"k"}, Nanosecond).WithLabelValues("k"))
			if i < 2 {
				gs = append(gs, NewGaugeVec(gopts, []string{"k"}).WithLabelValues("k"))
			}
		}
		observeAsARequest(b, hs, gs)
	})
}

type (
	observer interface{ Observe(float64) }
	upDown   interface {
		Inc()
		Dec()
	}
)

func observeAsARequest(b *testing.B, hs []observer, gs []upDown) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, g := range gs {
				g.Inc()
			}
			for i, h := range hs {
				h.Observe(0.01 * float64(i))
			}
			for _, g := range gs {
				g.Dec()
			}
		}
	})
}

func gather(t *testing.T, c prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func labels(m *dto.Metric) string {
	var s []string
	for _, l := range m.Label {
		s = append(s, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(s, ",")
}
