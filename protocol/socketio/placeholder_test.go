package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCheckPlaceholders(t *testing.T) {
	f := func(data string, n int, want error) {
		t.Helper()
		if err := CheckPlaceholders(b(data), n); err != want {
			t.Errorf("CheckPlaceholders(%s, %d) = %v, want %v", data, n, err, want)
		}
		if ref := refPlaceholders(b(data), n); want != ErrInvalidJSON && ref != want {
			t.Errorf("reference(%s, %d) = %v, want %v", data, n, ref, want)
		}
	}
	f(`["baz",{"_placeholder":true,"num":0}]`, 1, nil)
	f(`["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, 2, nil)
	f(`["baz",{"_placeholder":true,"num":1}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"_placeholder":true,"num":-1}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"_placeholder":true,"num":0.5}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"_placeholder":true,"num":"0"}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"_placeholder":true}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"_placeholder":true,"num":[0]}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"_placeholder":true,"num":99999999999999999999999}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"num":0,"_placeholder":true}]`, 1, nil)
	f(`["baz",{"_placeholder":false,"num":7}]`, 1, nil) // not a placeholder
	f(`["baz",{"_placeholder":1,"num":7}]`, 1, nil)     // only true counts
	f(`["baz",{"_placeholder":"true","num":7}]`, 1, nil)
	f(`["baz",{"_placeholder":{"a":1},"num":7}]`, 1, nil)
	f(`["baz",{"_placeholder":true,"_placeholder":false,"num":7}]`, 1, nil) // the last key wins
	f(`["baz",{"_placeholder":false,"_placeholder":true,"num":7}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"_placeholder":true,"num":7,"num":0}]`, 1, nil)
	f(`["baz",{"_placeholder":true,"num":0,"num":7}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"\u005fplaceholder":true,"n\u0075m":3}]`, 1, ErrBadPlaceholder) // keys are unescaped
	// Inside a placeholder nothing is looked at; elsewhere everything is.
	f(`["baz",{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}]`, 1, nil)
	f(`["baz",{"x":{"_placeholder":true,"num":9},"_placeholder":true,"num":0}]`, 1, nil)
	f(`["baz",{"_placeholder":false,"x":{"_placeholder":true,"num":9}}]`, 1, ErrBadPlaceholder)
	f(`["baz",{"a":[[{"b":{"_placeholder":true,"num":2}}]]}]`, 2, ErrBadPlaceholder)
	f(`["baz",{"a":[[{"b":{"_placeholder":true,"num":1}}]]}]`, 2, nil)
	f(`["baz",{},[],"",0,true,null]`, 0, nil)
	f(`{"_placeholder":true,"num":0}`, 0, ErrBadPlaceholder)
	f(` {"_placeholder":true,"num":0} `, 1, nil)
	f(`"x"`, 1, nil)
	f(`["baz",{"_placeholder":true,"num":0}`, 1, ErrInvalidJSON)
	f(`["baz",{"_placeholder":true,"num":0]]`, 1, ErrInvalidJSON)
	f(`["baz" {"_placeholder":true,"num":0}]`, 1, ErrInvalidJSON)
	f(`["baz",{"_placeholder" true}]`, 1, ErrInvalidJSON)
	f(`["baz",{_placeholder:true}]`, 1, ErrInvalidJSON)
	f(``, 1, ErrInvalidJSON)
	f(`[] x`, 1, ErrInvalidJSON)
}

// refPlaceholders is a slow reference for CheckPlaceholders, a transcript
// of Node's _reconstructPacket over encoding/json's tree (which, like
// JSON.parse, unescapes keys and keeps the last of duplicate keys), with
// this package's stricter rule that num is a plain integer.
func refPlaceholders(data []byte, n int) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return ErrInvalidJSON
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if !walk(e) {
					return false
				}
			}
		case map[string]any:
			if v["_placeholder"] == true {
				num, ok := v["num"].(json.Number)
				return ok && isIndex(b(num.String()), n)
			}
			for _, e := range v {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	if !walk(v) {
		return ErrBadPlaceholder
	}
	return nil
}

// sameJSON reports whether two JSON texts decode to equal values.
func sameJSON(x, y []byte) bool {
	var a, b any
	if json.Unmarshal(x, &a) != nil || json.Unmarshal(y, &b) != nil {
		return false
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
