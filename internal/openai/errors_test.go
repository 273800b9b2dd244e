package openai

import "testing"

// Each engine's way of wording an error reads as the same APIError.
func TestReadError(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       APIError
		ok         bool
	}{
		{"openai", `{"error":{"message":"bad","type":"invalid_request_error","param":"model","code":"model_not_found"}}`,
			APIError{"bad", "invalid_request_error", "model", "model_not_found"}, true},
		{"numeric code", `{"error":{"message":"bad","type":"BadRequestError","param":null,"code":400}}`,
			APIError{"bad", "BadRequestError", "", "400"}, true},
		{"vllm flat", `{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}`,
			APIError{"too long", "BadRequestError", "", "400"}, true},
		{"tgi", `{"error":"Input validation error","error_type":"validation"}`, APIError{Message: "Input validation error", Code: "validation"}, true},
		{"fastapi", `{"detail":"Not Found"}`, APIError{Message: "Not Found"}, true},
		{"fastapi list", `{"detail":[{"loc":["body"]}]}`, APIError{Message: `[{"loc":["body"]}]`}, true},
		{"plain text", `Internal Server Error`, APIError{}, false},
		{"other JSON", `{"status":"down"}`, APIError{}, false},
	} {
		if got, ok := ReadError([]byte(tt.body)); got != tt.want || ok != tt.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
