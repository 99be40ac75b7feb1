package wsframe

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
)

func TestAppendAcceptKey(t *testing.T) {
	// RFC 6455 §1.3 sample.
	if got := string(AppendAcceptKey([]byte("x"), []byte("dGhlIHNhbXBsZSBub25jZQ=="))); got != "xs3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("AppendAcceptKey = %q", got)
	}
	// Against the direct definition, across the stack-buffer limit.
	for _, n := range []int{0, 1, 24, 91, 92, 93, 200} {
		key := []byte(strings.Repeat("k", n))
		sum := sha1.Sum(append(key, acceptGUID...))
		want := base64.StdEncoding.EncodeToString(sum[:])
		if got := AppendAcceptKey(nil, key); string(got) != want || len(got) != AcceptKeySize {
			t.Errorf("key of %d bytes: %q, want %q", n, got, want)
		}
	}
}

func TestValidKey(t *testing.T) {
	f := func(key string, want bool) {
		t.Helper()
		if got := ValidKey([]byte(key)); got != want {
			t.Errorf("ValidKey(%q) = %v", key, got)
		}
	}
	f("dGhlIHNhbXBsZSBub25jZQ==", true)
	f("AAAAAAAAAAAAAAAAAAAAAA==", true)
	f("+/+/+/+/+/+/+/+/+/+/zz==", true)
	f("", false)
	f("dGhlIHNhbXBsZSBub25jZQ=", false)
	f("dGhlIHNhbXBsZSBub25jZQ===", false)
	f("dGhlIHNhbXBsZSBub25jZQAA", false)
	f("dGhlIHNhbXBsZSBub25jZ-==", false)
	f("dGhlIHNhbXBsZSBub25jZ ==", false)
	f("dGhlIHNhbXBsZSBub25j=Q==", false)
}

func TestAppendUpgradeHead(t *testing.T) {
	got := string(AppendUpgradeHead(nil, []byte("dGhlIHNhbXBsZSBub25jZQ==")))
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	if got != want {
		t.Errorf("AppendUpgradeHead = %q, want %q", got, want)
	}
}
