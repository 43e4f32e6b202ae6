package upload

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const requestToken = "ghs_reqtok_0123456789abcdefABCDEF"

func fakeOIDC(t *testing.T, status int, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/_apis/token" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+requestToken {
			t.Errorf("Authorization %q, want Bearer <request token>", got)
		}
		q := r.URL.Query()
		if q.Get("api-version") != "2.0" {
			t.Errorf("the request URL's own query was lost: %s", r.URL.RawQuery)
		}
		if q.Get("audience") != "codspeed.io" {
			t.Errorf("audience %q", q.Get("audience"))
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func oidcEnv(srv *httptest.Server, extra map[string]string) func(string) string {
	vars := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   srv.URL + "/_apis/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
	}
	for k, v := range extra {
		vars[k] = v
	}
	return func(k string) string { return vars[k] }
}

func TestOIDCToken(t *testing.T) {
	srv := fakeOIDC(t, 200, `{"count":1,"value":"eyJhbGciOiJSUzI1NiJ9.payload.sig"}`)
	tok, err := OIDCToken(context.Background(), oidcEnv(srv, nil), srv.Client(), "")
	if err != nil || tok != "eyJhbGciOiJSUzI1NiJ9.payload.sig" {
		t.Fatalf("OIDCToken = %q, %v", tok, err)
	}

	// Priority: flag, then CODSPEED_TOKEN, then OIDC, then tokenless.
	tests := []struct {
		flag, env, want, source string
		oidc                    bool
	}{
		{"flagtok", "envtok", "flagtok", TokenFromFlag, true},
		{"", "envtok", "envtok", TokenFromEnv, true},
		{"", "", "eyJhbGciOiJSUzI1NiJ9.payload.sig", TokenFromOIDC, true},
		{"", "", "", TokenNone, false},
	}
	for _, tt := range tests {
		getenv := func(k string) string {
			if k == "CODSPEED_TOKEN" {
				return tt.env
			}
			if !tt.oidc {
				return ""
			}
			return oidcEnv(srv, nil)(k)
		}
		tok, source, err := ResolveToken(context.Background(), tt.flag, getenv, srv.Client(), "")
		if err != nil || tok != tt.want || source != tt.source {
			t.Errorf("ResolveToken(flag %q, env %q, oidc %v) = %q, %q, %v; want %q, %q", tt.flag, tt.env, tt.oidc, tok, source, err, tt.want, tt.source)
		}
	}
}

func TestOIDCErrors(t *testing.T) {
	if _, err := OIDCToken(context.Background(), func(string) string { return "" }, nil, ""); !errors.Is(err, ErrNoOIDC) {
		t.Errorf("no OIDC variables: got %v, want ErrNoOIDC", err)
	}
	srv := fakeOIDC(t, 403, `{"message":"token `+requestToken+` lacks id-token: write"}`)
	_, err := OIDCToken(context.Background(), oidcEnv(srv, nil), srv.Client(), "")
	var ue *Error
	if !errors.As(err, &ue) || ue.StatusCode != 403 {
		t.Fatalf("got %v, want HTTP 403", err)
	}
	if strings.Contains(err.Error(), requestToken) || !strings.Contains(err.Error(), "lacks id-token") {
		t.Errorf("error should carry the server's message with the request token redacted: %v", err)
	}
	srv = fakeOIDC(t, 200, `{"value":""}`)
	if _, err := OIDCToken(context.Background(), oidcEnv(srv, nil), srv.Client(), ""); err == nil {
		t.Error("empty token value accepted")
	}
}
