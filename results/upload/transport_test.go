package upload

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// recordingTransport answers every request with 500 and counts them: a
// refused URL must never reach it.
type recordingTransport struct{ requests []string }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.requests = append(r.requests, req.Method+" "+req.URL.String()+" auth="+req.Header.Get("Authorization"))
	return nil, errors.New("no network in this test")
}

func TestTokenNeverOverPlainHTTP(t *testing.T) {
	b, err := Archive(profileFolder(t), false)
	if err != nil {
		t.Fatal(err)
	}
	md := NewMetadata(prInfo(), testRunner(), b, &RunPart{RunID: "r", RunPartID: "p"}, false, false)
	for _, tt := range []struct {
		url, token string
		refused    bool
	}{
		{"http://codspeed.example/upload", testToken, true},
		{"http://10.0.0.1:8080/upload", testToken, true},
		{"HTTP://codspeed.example/upload", testToken, true},
		{"ftp://codspeed.example/upload", testToken, true},
		{"http://127.0.0.1:1/upload", testToken, false},
		{"http://127.8.9.10:1/upload", testToken, false},
		{"http://[::1]:1/upload", testToken, false},
		{"http://localhost:1/upload", testToken, false},
		{"https://codspeed.example/upload", testToken, false},
		{"http://codspeed.example/upload", "", false}, // tokenless: nothing secret to send
	} {
		rt := &recordingTransport{}
		_, err := Upload(context.Background(), Options{URL: tt.url, Token: tt.token, HTTPClient: &http.Client{Transport: rt}, Retries: -1}, md, b)
		if tt.refused {
			if !errors.Is(err, ErrPlainHTTP) && !strings.Contains(err.Error(), "not an http(s) URL") {
				t.Errorf("%s: err %v, want a refusal", tt.url, err)
			}
			if len(rt.requests) != 0 {
				t.Errorf("%s: sent %v before refusing", tt.url, rt.requests)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("%s: token in the error", tt.url)
			}
			continue
		}
		if errors.Is(err, ErrPlainHTTP) || len(rt.requests) != 1 {
			t.Errorf("%s (token %t): err %v, requests %v: want one attempt", tt.url, tt.token != "", err, rt.requests)
		}
	}
}

func TestOIDCRequestNeverOverPlainHTTP(t *testing.T) {
	rt := &recordingTransport{}
	env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://pipelines.example/idtoken?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-secret"}
	_, err := OIDCToken(context.Background(), func(k string) string { return env[k] }, &http.Client{Transport: rt}, "")
	if !errors.Is(err, ErrPlainHTTP) || len(rt.requests) != 0 {
		t.Fatalf("err %v, requests %v: want a refusal before any request", err, rt.requests)
	}
	if strings.Contains(err.Error(), "request-secret") {
		t.Fatal("request token in the error")
	}
}
