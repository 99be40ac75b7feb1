package loop

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	var b bucket
	const s = int64(time.Second)
	take := func(now int64, want bool, what string) {
		t.Helper()
		if got := b.take(now, 2, 3); got != want {
			t.Fatalf("%s: take = %v, want %v", what, got, want)
		}
	}
	now := 100 * s
	for range 3 {
		take(now, true, "the burst")
	}
	take(now, false, "past the burst")
	take(now+s/4, false, "half a token")
	take(now+s/2, true, "a whole token, refilled")
	take(now, false, "the clock read late by another reactor")
	now += 60 * s // a long idle refills up to the burst only
	for range 3 {
		take(now, true, "the burst after idling")
	}
	take(now, false, "past the burst after idling")
}
