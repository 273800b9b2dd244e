package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/llmmon/llmmon/internal/cl100k"
	"github.com/llmmon/llmmon/internal/openai"
)

// preflight asks {url}/models once before any load, so an unreachable
// server, a refused API key or a URL that is not an OpenAI-compatible API
// fail with one line that names the fix, instead of a report full of errors.
// It returns the model to load: --model, or the first one listed.
func (g *generator) preflight(ctx context.Context) (string, error) {
	models := g.models.URL()
	header := []openai.Header{{Name: "Accept", Value: "application/json"}}
	for _, h := range g.header {
		if h.Name != "Content-Type" && h.Name != "Accept" {
			header = append(header, h)
		}
	}
	resp, err := g.client.Do(ctx, g.models, &openai.Request{Method: http.MethodGet, Header: header,
		Deadline: time.Now().Add(15 * time.Second)})
	if err != nil {
		return "", fmt.Errorf("cannot reach %s: %s; start the server or pass --url", g.base, reason(err))
	}
	defer resp.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if g.opts.APIKey == "" {
			return "", fmt.Errorf("%s answered %s: the server wants an API key; pass --api-key", models, resp.Status)
		}
		return "", fmt.Errorf("%s answered %s: the server refused the API key; check --api-key", models, resp.Status)
	case resp.StatusCode == http.StatusNotFound && g.opts.Model != "":
		return g.opts.Model, nil // some servers serve completions without a model list
	case resp.StatusCode == http.StatusNotFound && !strings.HasSuffix(g.base, "/v1"):
		return "", fmt.Errorf("%s answered 404: not an OpenAI-compatible API; --url must be the API base: did you mean --url %s/v1?", models, g.base)
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("%s answered 404: not an OpenAI-compatible API; --url must be the API base, like http://127.0.0.1:8000/v1", models)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%s answered %s: %s", models, resp.Status, oneLine(body, 120))
	}
	var list struct {
		Data *[]struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Data == nil {
		ct := resp.ContentType
		if ct == "" {
			ct = "no content type"
		}
		return "", fmt.Errorf("%s is not an OpenAI-compatible API: it answered %s %q instead of a model list; --url must be the API base, like http://127.0.0.1:8000/v1",
			models, ct, oneLine(body, 40))
	}
	if g.opts.Model != "" {
		return g.opts.Model, nil
	}
	for _, m := range *list.Data {
		if m.ID != "" {
			return m.ID, nil
		}
	}
	return "", fmt.Errorf("%s lists no models; pass --model", models)
}

// reason turns a dial or HTTP error into a few words.
func reason(err error) string {
	var dns *net.DNSError
	var ue *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dns):
		return fmt.Sprintf("no such host %q", dns.Name)
	case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		return "no answer within 15s"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF):
		return "the connection was closed (is it an HTTP server? for TLS use https://)"
	case errors.As(err, &ue):
		return ue.Err.Error()
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// countTokens estimates the tokens of a non-streamed answer that carries no
// usage block, with the cl100k BPE vocabulary.
func countTokens(s string) int { return cl100k.Count(s) }
