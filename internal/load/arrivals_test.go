package load

import (
	"context"
	"io"
	"testing"
	"time"
)

// pacedBody gives its parts one per Read, sleeping before each but the first.
type pacedBody struct {
	parts []string
	pause time.Duration
	n     int
}

func (b *pacedBody) Read(p []byte) (int, error) {
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
	if !o.hasTTFT || o.ttft >= pause {
		t.Errorf("ttft %v, want the first read's time, under %v", o.ttft, pause)
	}
	if len(o.gaps) != 3 {
		t.Fatalf("gaps %v, want 3", o.gaps)
	}
	if o.gaps[0] != 0 || o.gaps[1] != 0 {
		t.Errorf("gaps within one read are %v and %v, want 0", o.gaps[0], o.gaps[1])
	}
	if g := time.Duration(float64(o.gaps[2]) * float64(time.Second)); g < pause || g > pause+time.Second {
		t.Errorf("gap across reads is %v, want the %v pause", g, pause)
	}
	if o.outTokens != 4 {
		t.Errorf("tokens %d, want 4", o.outTokens)
	}
}
