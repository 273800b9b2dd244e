// Command gen writes cl100k.bin, the compact cl100k_base vocabulary that
// package cl100k embeds, from github.com/tiktoken-go/tokenizer's copy of
// OpenAI's encoding. Run it with `go generate ./internal/cl100k`.
//
// Layout (all integers little-endian uint32):
//
//	"cl100k\x00\x01"  magic and format version
//	n, tableBits      n tokens with ranks 0..n-1; a table of 1<<tableBits slots
//	offsets [n+1]     token r is blob[offsets[r]:offsets[r+1]]
//	table             open addressing, linear probing on fnv1a(token):
//	                  slot = tag<<17 | (rank+1), tag = hash>>17; 0 is empty
//	blob              the tokens' bytes
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Ranks 0..100255 are the ordinary tokens; the special ones start at 100257
// and are not part of BPE.
const nTokens = 100256
const tableBits = 18

func main() {
	out := flag.String("o", "cl100k.bin", "output file")
	flag.Parse()

	c := codec.NewCl100kBase()
	var offsets []uint32
	var blob []byte
	table := make([]uint32, 1<<tableBits)
	mask := uint32(len(table) - 1)
	for r := range nTokens {
		tok, err := c.Decode([]uint{uint(r)})
		if err != nil || tok == "" {
			log.Fatalf("rank %d: %q, %v", r, tok, err)
		}
		if ids, toks, _ := c.Encode(tok); utf8.ValidString(tok) && len(ids) == 1 && ids[0] != uint(r) {
			log.Fatalf("rank %d: %q encodes as %v %q", r, tok, ids, toks)
		}
		offsets = append(offsets, uint32(len(blob)))
		blob = append(blob, tok...)
		h := fnv1a(tok)
		for i := h & mask; ; i = (i + 1) & mask {
			if table[i] == 0 {
				table[i] = (h>>17)<<17 | uint32(r+1)
				break
			}
		}
	}
	offsets = append(offsets, uint32(len(blob)))

	var b bytes.Buffer
	b.WriteString("cl100k\x00\x01")
	for _, v := range [][]uint32{{nTokens, tableBits}, offsets, table} {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			log.Fatal(err)
		}
	}
	b.Write(blob)
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s: %d tokens, %d bytes\n", *out, nTokens, b.Len())
}

func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
