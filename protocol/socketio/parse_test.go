package socketio

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

func TestParseVectors(t *testing.T) {
	for _, v := range vectors {
		h, err := Parse(b(v.wire))
		if err != nil {
			t.Errorf("Parse(%q): %v", v.wire, err)
			continue
		}
		if d := sameHeader(h, v.h); d != "" {
			t.Errorf("Parse(%q): %s", v.wire, d)
		}
	}
}

func TestEncodeVectors(t *testing.T) {
	for _, v := range vectors {
		if v.canon {
			if got := reencode(v.h); string(got) != v.wire {
				t.Errorf("AppendHeader+Data for %q gave %q", v.wire, got)
			}
		}
		if v.enc != nil {
			if got := v.enc(); string(got) != v.wire {
				t.Errorf("encoder for %q gave %q", v.wire, got)
			}
		}
		// Every packet, canonical or not, re-encodes to one that parses the same.
		h, err := Parse(b(v.wire))
		if err != nil {
			continue // reported by TestParseVectors
		}
		h2, err := Parse(reencode(h))
		if err != nil {
			t.Errorf("re-encoded %q: %v", v.wire, err)
		} else if d := sameHeader(h2, h); d != "" {
			t.Errorf("re-encoded %q: %s", v.wire, d)
		}
	}
}

func TestParseRefusals(t *testing.T) {
	for _, r := range refusals {
		h, err := Parse(b(r.wire))
		if !errors.Is(err, r.err) {
			t.Errorf("Parse(%.40q) = %v, want %v", r.wire, err, r.err)
		}
		if err != nil && sameHeader(h, Header{}) != "" {
			t.Errorf("Parse(%.40q) returned a non-zero Header with its error", r.wire)
		}
	}
}

// TestParseChop parses every prefix of every vector and refusal: each must
// give a sentinel error or a Header that survives re-encoding.
func TestParseChop(t *testing.T) {
	var all []string
	for _, v := range vectors {
		all = append(all, v.wire)
	}
	for _, r := range refusals {
		all = append(all, r.wire)
	}
	for _, w := range all {
		for n := 0; n <= len(w); n++ {
			in := b(w[:n])
			h, err := Parse(in)
			if err != nil {
				if !isSentinel(err) {
					t.Errorf("Parse(%q): non-sentinel error %v", in, err)
				}
				continue
			}
			h2, err := Parse(reencode(h))
			if err != nil || sameHeader(h2, h) != "" {
				t.Errorf("Parse(%q) = %+v does not survive re-encoding (%v)", in, h, err)
			}
		}
	}
}

// TestParseAckID checks the ack id digit loop against strconv.
func TestParseAckID(t *testing.T) {
	for _, s := range []string{"0", "7", "007", "12", "4294967295", "4294967296",
		"9007199254740990", "9007199254740991", "9007199254740992", "18446744073709551615",
		"18446744073709551616", "99999999999999999999999"} {
		h, err := Parse(b("3" + s + "[]"))
		want, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil || want > MaxAckID {
			if !errors.Is(err, ErrBadAckID) {
				t.Errorf("ack id %s: err %v, want ErrBadAckID", s, err)
			}
			continue
		}
		if err != nil || !h.HasAck || h.AckID != want {
			t.Errorf("ack id %s: got %d, %v; want %d", s, h.AckID, err, want)
		}
	}
}

// TestParseAttachments checks the attachment digit loop against strconv.
func TestParseAttachments(t *testing.T) {
	for _, s := range []string{"0", "1", "01", "9", "10", "010", "11", "100", "4294967297",
		"18446744073709551617", "99999999999999999999999"} {
		h, err := Parse(b("5" + s + `-["a"]`))
		n, perr := strconv.ParseUint(s, 10, 64)
		switch {
		case perr == nil && n == 0:
			if !errors.Is(err, ErrBadAttachments) {
				t.Errorf("%s attachments: err %v, want ErrBadAttachments", s, err)
			}
		case perr != nil || n > MaxAttachments:
			if !errors.Is(err, ErrTooManyAttachments) {
				t.Errorf("%s attachments: err %v, want ErrTooManyAttachments", s, err)
			}
		case err != nil || uint64(h.Attachments) != n:
			t.Errorf("%s attachments: got %d, %v", s, h.Attachments, err)
		}
	}
}

// TestParseAliases checks the lifetime contract: slices point into the
// input, and appending to them does not overwrite it.
func TestParseAliases(t *testing.T) {
	in := b(`0/admin?x=1,{"a":1}`)
	h, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if &h.Namespace[0] != &in[1] || &h.Query[0] != &in[7] || &h.Data[0] != &in[12] {
		t.Fatal("Namespace, Query and Data must alias the input")
	}
	_ = append(h.Namespace, '!')
	_ = append(h.Query, '!')
	if string(in) != `0/admin?x=1,{"a":1}` {
		t.Fatalf("append to a returned slice overwrote the input: %q", in)
	}
	h, _ = Parse(b(`2["a"]`))
	if &h.Namespace[0] != &rootNamespace[0] {
		t.Fatal(`a missing namespace must be the shared "/"`)
	}
}

func TestPacketTypeString(t *testing.T) {
	f := func(pt PacketType, want string) {
		t.Helper()
		if got := pt.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	f(Connect, "CONNECT")
	f(Disconnect, "DISCONNECT")
	f(Event, "EVENT")
	f(Ack, "ACK")
	f(ConnectError, "CONNECT_ERROR")
	f(BinaryEvent, "BINARY_EVENT")
	f(BinaryAck, "BINARY_ACK")
	f('7', "PacketType(55)")
}

func TestCheckNamespace(t *testing.T) {
	f := func(nsp string, want error) {
		t.Helper()
		if err := CheckNamespace(b(nsp)); err != want {
			t.Errorf("CheckNamespace(%q) = %v, want %v", nsp, err, want)
		}
	}
	f("/", nil)
	f("/admin", nil)
	f("/a/b?c", nil)
	f("", ErrBadNamespace)
	f("admin", ErrBadNamespace)
	f("/a,b", ErrBadNamespace)
}

// TestCheckJSONDepth pins the nesting limit on both sides of MaxDepth.
func TestCheckJSONDepth(t *testing.T) {
	nest := func(n int) []byte {
		return append(bytes.Repeat(b(`{"a":[`), n/2), bytes.Repeat(b(`]}`), n/2)...)
	}
	if err := checkJSON(nest(MaxDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	if err := checkJSON(nest(MaxDepth + 2)); err != ErrTooDeep {
		t.Errorf("depth %d: %v, want ErrTooDeep", MaxDepth+2, err)
	}
	if err := CheckPlaceholders(nest(MaxDepth), 1); err != nil {
		t.Errorf("CheckPlaceholders depth %d: %v", MaxDepth, err)
	}
	if err := CheckPlaceholders(nest(MaxDepth+2), 1); err != ErrTooDeep {
		t.Errorf("CheckPlaceholders depth %d: %v, want ErrTooDeep", MaxDepth+2, err)
	}
}
