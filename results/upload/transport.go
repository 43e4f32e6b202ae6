package upload

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrPlainHTTP is returned (wrapped) when a secret would travel over plain
// http to a host other than this machine.
var ErrPlainHTTP = fmt.Errorf("refusing to send a token over plain http")

// checkSecretURL refuses raw as a destination for a secret unless it is
// https, or http to a loopback address (a local test server or a proxy on
// this machine), where nothing crosses a network.
func checkSecretURL(raw, what string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: not a URL", what)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w to %s (%s): use https; plain http is allowed only to a loopback address", ErrPlainHTTP, safeURL(raw), what)
	}
	return fmt.Errorf("%s %s: not an http(s) URL", what, safeURL(raw))
}

func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		// RFC 6761 §6.3: localhost names resolve to loopback.
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
