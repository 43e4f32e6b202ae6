package upload

import (
	"net/url"
	"strings"
)

// redacted replaces every secret in messages that leave this package.
const redacted = "[REDACTED]"

// redactor removes secrets (the upload token, an OIDC token, the token that
// requests it) from text before it reaches an error or a log line. Servers
// sometimes echo the Authorization header in their error bodies, so every
// byte that came from the network passes through it too.
type redactor struct{ secrets []string }

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		r.add(s)
	}
	return r
}

func (r *redactor) add(secret string) {
	// Very short strings would redact ordinary words; real tokens are long.
	if len(secret) < 4 {
		return
	}
	r.secrets = append(r.secrets, secret)
	// A server echoing a URL or a form shows the token escaped.
	for _, v := range []string{url.QueryEscape(secret), url.PathEscape(secret)} {
		if v != secret {
			r.secrets = append(r.secrets, v)
		}
	}
}

func (r *redactor) String(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}
