package cl100k

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
)

type golden struct {
	S   string `json:"s"`
	IDs []int  `json:"ids"`
}

// readGolden reads testdata/golden.jsonl: strings and the token ids OpenAI's
// tiktoken gives them (testdata/golden.js wrote it).
func readGolden(t testing.TB) []golden {
	f, err := os.Open("testdata/golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("golden.jsonl: %v", err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil || len(out) < 6000 {
		t.Fatalf("golden.jsonl: %d strings, %v", len(out), err)
	}
	return out
}

func TestMatchesTiktoken(t *testing.T) {
	for _, g := range readGolden(t) {
		got := AppendRanks(nil, g.S)
		if !slices.Equal(got, g.IDs) {
			t.Errorf("%q:\n got  %v %q\n want %v", g.S, got, AppendTokens(nil, g.S), g.IDs)
			continue
		}
		if n := Count(g.S); n != len(g.IDs) {
			t.Errorf("Count(%q) = %d, want %d", g.S, n, len(g.IDs))
		}
		if joined := strings.Join(AppendTokens(nil, g.S), ""); joined != g.S {
			t.Errorf("%q: tokens join to %q", g.S, joined)
		}
	}
}

// Invalid UTF-8 is read as U+FFFD per bad byte, as tiktoken's regexp
// engine reads it.
func TestInvalidUTF8(t *testing.T) {
	got := AppendTokens(nil, "ok \xff\xfe!")
	if want := []string{"ok", " \uFFFD\uFFFD!"}; strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("tokens %q, want them to spell %q", got, want)
	}
}

// Every token of the vocabulary is found under its own rank, and only
// tokens are found.
func TestEveryTokenRoundTrips(t *testing.T) {
	for r := range nTokens {
		tok := token(r)
		if got, ok := rank(tok); !ok || got != r {
			t.Fatalf("rank(%q) = %d, %v; want %d", tok, got, ok, r)
		}
		if _, ok := rank(tok + "\x00"); ok && !strings.Contains(tok, "\x00") {
			t.Fatalf("rank found %q", tok+"\x00")
		}
	}
	if _, ok := rank("not a token at all, surely"); ok {
		t.Fatal("rank found a string that is not in the vocabulary")
	}
}

// The point of the package: using it builds nothing on the heap.
func TestFirstUseAllocatesAlmostNothing(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := Count("The first use of the tokenizer must not build a vocabulary on the heap.")
	runtime.ReadMemStats(&after)
	if n == 0 {
		t.Fatal("no tokens")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<10 {
		t.Fatalf("first Count allocated %d bytes; tiktoken-go's map is 3.4 MB, ours should be ~0", grew)
	}
}

// refSplit is an independent reading of the split pattern, with Go's regexp
// (leftmost-first, as a backtracking engine) and \s spelled out as Unicode
// White_Space. RE2 has no lookahead, so \s+(?!\S) is applied by hand: a run
// of whitespace before something else gives up its last rune.
var refRE = regexp.MustCompile(`^(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\pL\pN]?\pL+|\pN{1,3}| ?[^\t\n\v\f\r\x{85}\pZ\pL\pN]+[\r\n]*|[\t\n\v\f\r\x{85}\pZ]*[\r\n]+|[\t\n\v\f\r\x{85}\pZ]+)`)

func refSplit(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		loc := refRE.FindStringIndex(s[i:])
		if loc == nil {
			return append(out, "<no match>")
		}
		m := s[i : i+loc[1]]
		if strings.TrimFunc(m, isSpace) == "" && !strings.ContainsAny(m, "\r\n") &&
			i+len(m) < len(s) && utf8.RuneCountInString(m) > 1 {
			_, n := utf8.DecodeLastRuneInString(m)
			m = m[:len(m)-n]
		}
		out = append(out, m)
		i += len(m)
	}
	return out
}

func FuzzTokenize(f *testing.F) {
	for _, g := range readGolden(f)[:500] {
		f.Add(g.S)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := AppendTokens(nil, s)
		ranks := AppendRanks(nil, s)
		if len(toks) != len(ranks) || Count(s) != len(toks) {
			t.Fatalf("%q: %d tokens, %d ranks, Count %d", s, len(toks), len(ranks), Count(s))
		}
		for i, tok := range toks {
			if r, ok := rank(tok); !ok || r != ranks[i] {
				t.Fatalf("%q: token %q has rank %d, %v; encoded as %d", s, tok, r, ok, ranks[i])
			}
		}
		if !utf8.ValidString(s) {
			return
		}
		if joined := strings.Join(toks, ""); joined != s {
			t.Fatalf("%q: tokens join to %q", s, joined)
		}
		var pieces []string
		for i := 0; i < len(s); {
			end := nextPiece(s, i)
			if end <= i {
				t.Fatalf("%q: no progress at %d", s, i)
			}
			pieces = append(pieces, s[i:end])
			i = end
		}
		if want := refSplit(s); !slices.Equal(pieces, want) {
			t.Fatalf("%q: split\n got  %q\n want %q", s, pieces, want)
		}
		for _, p := range pieces { // the heap merge agrees with the scan
			if len(p) < 512 { // the scan is O(n²)
				a, b := mergeScan(p, nil), mergeHeap(p)
				if len(a) != len(b) {
					t.Fatalf("%q: merge %v, mergeHeap %v", p, a, b)
				}
				for i := range a {
					if a[i].at != b[i].at {
						t.Fatalf("%q: merge %v, mergeHeap %v", p, a, b)
					}
				}
			}
		}
	})
}

// tiktoken-go gives the same tokens for ordinary text, but it is not the
// reference: its regexp engine drops DEL and splits "\n \n" differently
// from tiktoken. Here it is only the speed to beat.
func BenchmarkCount(b *testing.B) {
	text, err := os.ReadFile("../../stack/llmserver/sim/corpus.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cl100k", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			Count(string(text))
		}
	})
	b.Run("tiktoken-go", func(b *testing.B) {
		c := codec.NewCl100kBase()
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			c.Count(string(text))
		}
	})
}
