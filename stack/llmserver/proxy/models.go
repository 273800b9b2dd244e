package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// ListModels builds GET /v1/models from the upstreams' own lists, so
// fields such as vLLM's max_model_len survive: every model of the upstream
// without NAME=, the routed model of each NAME= upstream, then --model's
// restriction and renames. An upstream that cannot be asked is left out,
// unless none can be: then 502.
func (p *Proxy) ListModels(ctx context.Context, id string) ([]byte, error) {
	byID := map[string]map[string]json.RawMessage{}
	var ids []string
	add := func(m map[string]json.RawMessage, name string) {
		if _, ok := byID[name]; ok {
			return
		}
		cp := make(map[string]json.RawMessage, len(m)+1)
		for k, v := range m {
			cp[k] = v
		}
		cp["id"], _ = json.Marshal(name)
		byID[name] = cp
		ids = append(ids, name)
	}
	var firstErr error
	ok := 0
	for _, u := range p.upstreams {
		list, err := p.fetchModels(ctx, u)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ok++
		if u.name == "" {
			for _, m := range list {
				var mid string
				json.Unmarshal(m["id"], &mid)
				if mid != "" {
					add(m, mid)
				}
			}
			continue
		}
		// A NAME= upstream: its entry for NAME, or its only model (engines
		// such as llama.cpp list a file path), else a bare entry.
		var pick map[string]json.RawMessage
		for _, m := range list {
			var mid string
			json.Unmarshal(m["id"], &mid)
			if mid == u.name {
				pick = m
			}
		}
		if pick == nil && len(list) == 1 {
			pick = list[0]
		}
		if pick == nil {
			pick = bareModel()
		}
		add(pick, u.name)
	}
	if ok == 0 && firstErr != nil {
		return nil, firstErr
	}
	if p.exposed != nil {
		known := byID
		byID, ids = map[string]map[string]json.RawMessage{}, nil
		for _, exp := range p.order {
			m, found := known[p.exposed[exp]]
			if !found {
				m = bareModel()
			}
			add(m, exp)
		}
	}
	if id != "" {
		m, found := byID[id]
		if !found {
			return nil, p.notFound(id)
		}
		return json.Marshal(m)
	}
	data := make([]map[string]json.RawMessage, 0, len(ids))
	for _, i := range ids {
		data = append(data, byID[i])
	}
	return json.Marshal(struct {
		Object string                       `json:"object"`
		Data   []map[string]json.RawMessage `json:"data"`
	}{"list", data})
}

func bareModel() map[string]json.RawMessage {
	return map[string]json.RawMessage{
		"object":   json.RawMessage(`"model"`),
		"created":  json.RawMessage(fmt.Sprint(time.Now().Unix())),
		"owned_by": json.RawMessage(`"upstream"`),
	}
}

func (p *Proxy) fetchModels(ctx context.Context, u *upstream) ([]map[string]json.RawMessage, error) {
	t := p.cfg.Timeout
	if t <= 0 || t > 30*time.Second {
		t = 30 * time.Second
	}
	timeout := func() error {
		return &backend.Error{Status: http.StatusGatewayTimeout, Type: "server_error", Code: "upstream_timeout",
			Message: "the model server did not list its models in time",
			Detail:  fmt.Sprintf("the upstream %s did not list its models within %s", u.base, t)}
	}
	header := []openai.Header{jsonAccept, userAgent}
	if p.cfg.APIKey != "" {
		header = append(header, openai.Header{Name: "Authorization", Value: "Bearer " + p.cfg.APIKey})
	}
	c := &call{p: p, up: u}
	resp, err := p.client.Do(ctx, u.models, &openai.Request{Method: http.MethodGet, Header: header, Deadline: time.Now().Add(t)})
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			return nil, timeout()
		}
		return nil, c.unreachable(err)
	}
	defer resp.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			return nil, timeout()
		}
		return nil, c.unreachable(err)
	}
	if resp.StatusCode >= 300 {
		return nil, c.upstreamError(resp, body)
	}
	var list struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, &backend.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_bad_response",
			Message: "the model server's model list is not valid",
			Detail:  fmt.Sprintf("the upstream %s answered GET /models with something that is not a model list: %v", u.base, err)}
	}
	u.learn(list.Data)
	return list.Data, nil
}
