package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

// DefaultOIDCAudience is the audience requested for a GitHub OIDC token when
// uploading to CodSpeed.
const DefaultOIDCAudience = "codspeed.io"

// ErrNoOIDC is returned (wrapped) when the job cannot request a GitHub OIDC
// token: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN are only set when the
// workflow grants `permissions: id-token: write`.
var ErrNoOIDC = errors.New("no GitHub OIDC token available (grant the job `permissions: id-token: write`, or set CODSPEED_TOKEN)")

// OIDCToken asks GitHub Actions for an OIDC token with the given audience
// (DefaultOIDCAudience when empty). Neither the request token nor the
// returned token appears in an error.
func OIDCToken(ctx context.Context, getenv func(string) string, client *http.Client, audience string) (string, error) {
	reqURL, reqToken := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return "", fmt.Errorf("oidc: %w", ErrNoOIDC)
	}
	if audience == "" {
		audience = DefaultOIDCAudience
	}
	if client == nil {
		client = http.DefaultClient
	}
	red := newRedactor(reqToken)
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("oidc: ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	if err := checkSecretURL(reqURL, "ACTIONS_ID_TOKEN_REQUEST_URL"); err != nil {
		return "", fmt.Errorf("oidc: %w", err)
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("oidc: %s", red.String(err.Error()))
	}
	req.Header.Set("Authorization", "Bearer "+reqToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		e := &Error{Op: "oidc token", URL: safeURL(reqURL), Message: red.String(networkMessage(err))}
		e.cause = ctx.Err()
		return "", e
	}
	defer resp.Body.Close()
	var answer struct {
		Value string `json:"value"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", &Error{Op: "oidc token", URL: safeURL(reqURL), StatusCode: resp.StatusCode, Message: red.String(err.Error())}
	}
	if resp.StatusCode != http.StatusOK {
		return "", &Error{Op: "oidc token", URL: safeURL(reqURL), StatusCode: resp.StatusCode, Message: red.String(serverMessage(body))}
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Value == "" {
		return "", &Error{Op: "oidc token", URL: safeURL(reqURL), StatusCode: resp.StatusCode, Message: "answer has no token value"}
	}
	return answer.Value, nil
}

// Token sources, as returned by ResolveToken.
const (
	TokenFromFlag  = "flag"
	TokenFromEnv   = "CODSPEED_TOKEN"
	TokenFromOIDC  = "github-oidc"
	TokenNone      = "tokenless"
	envTokenName   = "CODSPEED_TOKEN"
	envOIDCRequest = "ACTIONS_ID_TOKEN_REQUEST_URL"
)

// ResolveToken picks the upload token: the flag value, then CODSPEED_TOKEN,
// then (inside GitHub Actions with id-token permission) an OIDC token, and
// otherwise none (a tokenless upload). source says which, for a log line
// that names where the token came from without printing it.
func ResolveToken(ctx context.Context, flagToken string, getenv func(string) string, client *http.Client, audience string) (token, source string, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch {
	case flagToken != "":
		return flagToken, TokenFromFlag, nil
	case getenv(envTokenName) != "":
		return getenv(envTokenName), TokenFromEnv, nil
	case getenv(envOIDCRequest) != "":
		t, err := OIDCToken(ctx, getenv, client, audience)
		if err != nil {
			return "", "", err
		}
		return t, TokenFromOIDC, nil
	}
	return "", TokenNone, nil
}
