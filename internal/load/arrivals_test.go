package load

import (
	"context"
	"io"
	"testing"
	"time"
)

// pacedBody gives its parts one per Read, sleeping before each but the
// first, and notes when each Read was entered.
type pacedBody struct {
	parts   []string
	pause   time.Duration
	n       int
	entered []time.Time
}

func (b *pacedBody) Read(p []byte) (int, error) {
	b.entered = append(b.entered, time.Now())
	if b.n == len(b.parts) {
		return 0, io.EOF
	}
	if b.n > 0 {
		time.Sleep(b.pause)
	}
	b.n++
	return copy(p, b.parts[b.n-1]), nil
}

// Tokens are timed when their bytes arrive, not when they are parsed: the
// three events of one read share its time, and the gap to the next read is
// the pause between them.
func TestTokensAreTimedByTheReadThatBroughtThem(t *testing.T) {
	chunk := func(text string) string {
		return `data: {"choices":[{"index":0,"text":"` + text + `","finish_reason":null}]}` + "\n\n"
	}
	const pause = 40 * time.Millisecond
	body := &pacedBody{pause: pause, parts: []string{
		chunk("a") + chunk("b") + chunk("c"),
		chunk("d"),
		"data: [DONE]\n\n",
	}}
	var g generator
	o := outcome{}
	start := time.Now()
	g.readStream(context.Background(), body, start, &o)
	if o.status != "" {
		t.Fatalf("status %q: %s", o.status, o.detail)
	}
	if len(body.entered) < 3 {
		t.Fatalf("%d reads, want at least 3", len(body.entered))
	}
	// The first read's time lies between its start and the second read's.
	if first := start.Add(o.ttft); !o.hasTTFT || first.Before(body.entered[0]) || !first.Before(body.entered[1]) {
		t.Errorf("ttft %v is not the first read's time (reads entered at %v and %v after start)",
			o.ttft, body.entered[0].Sub(start), body.entered[1].Sub(start))
	}
	if len(o.gaps) != 3 {
		t.Fatalf("gaps %v, want 3", o.gaps)
	}
	if o.gaps[0] != 0 || o.gaps[1] != 0 {
		t.Errorf("gaps within one read are %v and %v, want 0", o.gaps[0], o.gaps[1])
	}
	// The second read returned at least pause after the first was entered,
	// and before the third was.
	if g := time.Duration(float64(o.gaps[2]) * float64(time.Second)); g < pause-time.Microsecond || g > body.entered[2].Sub(body.entered[0]) {
		t.Errorf("gap across reads is %v, want the %v pause and no more than %v", g, pause, body.entered[2].Sub(body.entered[0]))
	}
	if o.outTokens != 4 {
		t.Errorf("tokens %d, want 4", o.outTokens)
	}
}
