package upload

import "testing"

func TestRedactor(t *testing.T) {
	r := newRedactor("tok/with+special=chars", "abc", "")
	tests := map[string]string{
		"Authorization: tok/with+special=chars": "Authorization: " + redacted,
		"?t=tok%2Fwith%2Bspecial%3Dchars":       "?t=" + redacted,
		"/p/tok%2Fwith+special=chars":           "/p/" + redacted,
		"abc is too short to be a token":        "abc is too short to be a token",
	}
	for in, want := range tests {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
