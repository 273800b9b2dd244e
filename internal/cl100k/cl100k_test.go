package cl100k

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
)

var reference = codec.NewCl100kBase()

// same fails the test unless s has exactly tiktoken-go's tokens.
func same(t *testing.T, s string) {
	t.Helper()
	wantIDs, wantToks, err := reference.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	gotIDs := AppendRanks(nil, s)
	gotToks := AppendTokens(nil, s)
	ok := len(gotIDs) == len(wantIDs) && len(gotToks) == len(wantToks)
	for i := 0; ok && i < len(wantIDs); i++ {
		ok = gotIDs[i] == int(wantIDs[i]) && gotToks[i] == wantToks[i]
	}
	if !ok {
		t.Fatalf("%q:\n got  %v %q\n want %v %q", s, gotIDs, gotToks, wantIDs, wantToks)
	}
	if n := Count(s); n != len(wantIDs) {
		t.Fatalf("Count(%q) = %d, want %d", s, n, len(wantIDs))
	}
}

var cases = []string{
	"", " ", "  ", "\n", "\r\n", " \n ", "\n\n\n", "a \n\n b", "\t\t x", "x   ", "x  y", "  x",
	"Hello, world!", "hello world", "I'm here, you're there; they'll've been, it'S, 'LL 'Re 'x",
	"'s", "'", "''", "I'dve 'Dx 'mm 'tt 'vex 'rex 'llx", "'\n", "don't", "DON'T",
	"1234567", "12 345", "x1y22z333", "٣٤٥ ⅷ ½", " 12", "3.14159",
	"!!!", " !!!\n\n", "...\r\n", " ?", "a.b.c", "$100", "#include <stdio.h>\n",
	"naïve café — “quotes” ‘single’", "日本語のテキスト", "한국어 텍스트", "Привет, мир", "مرحبا بالعالم",
	"emoji 👍🏽 and 🇫🇷 flags", "zero\u200bwidth", "nbsp\u00a0here", "ideographic\u3000space", "nel\u0085x",
	"tabs\tand\vvertical\fform", "mixed  \t\n  spacing\n\n\nend   ",
	"<|endoftext|> is plain text here",
	"func main() {\n\tfmt.Println(\"hi\")\n}\n",
	strings.Repeat("=", 300), strings.Repeat("ab", 200), strings.Repeat("🙂", 50), strings.Repeat(" ", 200) + "x",
	"invalid \xff\xfe bytes \xe2\x82", "\x80",
}

func TestMatchesTiktoken(t *testing.T) {
	for _, s := range cases {
		same(t, s)
	}
}

// The simulated engine's corpus and the README: prose, markdown and code.
func TestMatchesTiktokenOnFiles(t *testing.T) {
	for _, f := range []string{"../../stack/llmserver/sim/corpus.txt", "../../README.md", "cl100k.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		same(t, string(b))
		for _, line := range strings.SplitAfter(string(b), "\n") {
			same(t, line)
		}
	}
}

// Every token of the vocabulary that is valid UTF-8 encodes as itself.
func TestEveryTokenRoundTrips(t *testing.T) {
	checked := 0
	for r := range nTokens {
		tok := token(r)
		if got, ok := rank(tok); !ok || got != r {
			t.Fatalf("rank(%q) = %d, %v; want %d", tok, got, ok, r)
		}
		if utf8.ValidString(tok) {
			if n := Count(tok); n < 1 {
				t.Fatalf("Count(%q) = %d", tok, n)
			}
			checked++
		}
	}
	if _, ok := rank("not a token at all, surely"); ok {
		t.Fatal("rank found a string that is not in the vocabulary")
	}
	if checked < 90000 {
		t.Fatalf("only %d tokens checked", checked)
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

func FuzzMatchesTiktoken(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		same(t, s)
	})
}

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
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			reference.Count(string(text))
		}
	})
}
