package sim

import (
	"container/list"
	"sync"

	"github.com/llmmon/llmmon/internal/cl100k"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// prefixCache is automatic prefix caching as vLLM does it: the KV blocks
// of a prompt's full blocks of tokens are kept after the request, each
// keyed by a hash of every token up to the block's end, and a later
// prompt that starts with the same tokens reuses them instead of
// prefilling them again. It keeps at most cap blocks and forgets the least
// recently used first. The engine's mutex guards it.
type prefixCache struct {
	cap   int
	items map[uint64]*list.Element
	lru   list.List // of uint64 hashes, most recent first
}

func newPrefixCache(blocks int) *prefixCache {
	return &prefixCache{cap: blocks, items: make(map[uint64]*list.Element)}
}

// match returns how many of the prompt's leading tokens are cached, and
// caches every full block of it. Like vLLM, it never reports the whole
// prompt as cached: the last token is always computed.
func (c *prefixCache) match(ranks []int, blockSize int) (hit int) {
	h := uint64(14695981039346656037)
	matching := true
	for end := blockSize; end <= len(ranks); end += blockSize {
		for _, r := range ranks[end-blockSize : end] {
			h ^= uint64(r)
			h *= 1099511628211
		}
		if el, ok := c.items[h]; ok {
			c.lru.MoveToFront(el)
			if matching {
				hit = end
			}
			continue
		}
		matching = false
		if c.lru.Len() >= c.cap {
			old := c.lru.Back()
			delete(c.items, old.Value.(uint64))
			c.lru.Remove(old)
		}
		c.items[h] = c.lru.PushFront(h)
	}
	return min(hit, len(ranks)-1)
}

// Chat prompts are framed as OpenAI documents for its chat template: each
// message costs 3 tokens plus its role and content, and the reply is primed
// with 3 more. The frame tokens are ids no text produces.
var (
	messageFrame = []int{-1, -2, -3}
	replyPrimer  = []int{-4, -5, -6}
)

var ranksPool = sync.Pool{New: func() any { b := make([]int, 0, 256); return &b }}

// promptRanks appends req's prompt tokens (their cl100k ids, framed for
// chat) to dst. Their number is the request's prompt tokens; a
// completions prompt counts at least one.
func promptRanks(dst []int, req *backend.Request) []int {
	if !req.Chat {
		dst = cl100k.AppendRanks(dst, req.Prompt)
		if len(dst) == 0 {
			dst = append(dst, -7)
		}
		return dst
	}
	for _, m := range req.Messages {
		dst = append(dst, messageFrame...)
		dst = cl100k.AppendRanks(dst, m.Role)
		dst = cl100k.AppendRanks(dst, m.Content)
	}
	return append(dst, replyPrimer...)
}
