package socketio

import (
	"errors"
	"testing"
)

func TestSplitEvent(t *testing.T) {
	f := func(data, name, args string, wantErr error) {
		t.Helper()
		n, a, err := SplitEvent(b(data))
		if !errors.Is(err, wantErr) {
			t.Errorf("SplitEvent(%q): err %v, want %v", data, err, wantErr)
			return
		}
		if string(n) != name || string(a) != args || (args == "") != (a == nil) {
			t.Errorf("SplitEvent(%q) = %q, %q; want %q, %q", data, n, a, name, args)
		}
	}
	f(`["message",{"a":1},2]`, "message", `{"a":1},2`, nil)
	f(`["x"]`, "x", "", nil)
	f(`[ "x" ]`, "x", "", nil)
	f(`[ "x" , 1 , [2] ] `, "x", `1 , [2]`, nil)
	f(`["a\"b\\c\u00e9\ud83d\ude00"]`, "a\"b\\cé😀", "", nil)
	f(`["\ud83d"]`, "\uFFFD", "", nil)                // a lone surrogate
	f(`["\ude00\ud83d",1]`, "\uFFFD\uFFFD", "1", nil) // reversed pair
	f(`["\n\t\b\f\r\/"]`, "\n\t\b\f\r/", "", nil)
	f(`[42,"x"]`, "42", `"x"`, nil)
	f(`[-1.5e3]`, "-1.5e3", "", nil)
	f(`[]`, "", "", ErrInvalidPayload)
	f(`[ ]`, "", "", ErrInvalidPayload)
	f(``, "", "", ErrInvalidPayload)
	f(`[`, "", "", ErrInvalidPayload)
	f(`]`, "", "", ErrInvalidPayload)
	f(`{"a":1}`, "", "", ErrInvalidPayload)
	f(`[null]`, "", "", ErrInvalidPayload)
	f(`[{"a":1}]`, "", "", ErrInvalidPayload)
	f(`["x",]`, "", "", ErrInvalidJSON)
	f(`["x" 1]`, "", "", ErrInvalidJSON)
	f(`["x]`, "", "", ErrInvalidJSON)
	f(`[-]`, "", "", ErrInvalidJSON)

	// A name without escapes aliases data; its capacity is cut.
	data := b(`["abc",1]`)
	n, _, _ := SplitEvent(data)
	if &n[0] != &data[2] || cap(n) != 3 {
		t.Error("an unescaped name must alias data with its capacity cut")
	}
}

func TestSplitAck(t *testing.T) {
	f := func(data, args string, wantErr error) {
		t.Helper()
		a, err := SplitAck(b(data))
		if !errors.Is(err, wantErr) || string(a) != args || (args == "") != (a == nil) {
			t.Errorf("SplitAck(%q) = %q, %v; want %q, %v", data, a, err, args, wantErr)
		}
	}
	f(`[]`, "", nil)
	f(`[ ]`, "", nil)
	f(`["bar",1]`, `"bar",1`, nil)
	f(` [ {"a":[1]} ] `, `{"a":[1]}`, nil)
	f(``, "", ErrInvalidPayload)
	f(`[`, "", ErrInvalidPayload)
	f(`{}`, "", ErrInvalidPayload)
	f(`"[]"`, "", ErrInvalidPayload)
}

// TestSplitEventRoundTrip splits the payload of every event vector and
// re-encodes it with AppendEvent.
func TestSplitEventRoundTrip(t *testing.T) {
	for _, v := range vectors {
		if v.h.Type != Event || !v.canon {
			continue
		}
		name, args, err := SplitEvent(v.h.Data)
		if err != nil {
			t.Errorf("SplitEvent(%q): %v", v.h.Data, err)
			continue
		}
		if v.h.Data[1] != '"' {
			continue // a number name comes back as a string
		}
		got := AppendEvent(nil, v.h.Namespace, 0, v.h.HasAck, v.h.AckID, name, args)
		h, err := Parse(got)
		if err != nil {
			t.Errorf("AppendEvent for %q gave %q: %v", v.wire, got, err)
			continue
		}
		if !sameJSON(h.Data, v.h.Data) {
			t.Errorf("AppendEvent for %q gave %q", v.wire, got)
		}
	}
}

func TestIsReservedEvent(t *testing.T) {
	for _, r := range reservedEvents {
		if !IsReservedEvent(b(r)) {
			t.Errorf("IsReservedEvent(%q) = false", r)
		}
	}
	for _, s := range []string{"", "message", "Connect", "connect ", "conn\\u0065ct"} {
		if IsReservedEvent(b(s)) {
			t.Errorf("IsReservedEvent(%q) = true", s)
		}
	}
}
