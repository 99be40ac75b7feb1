package http1

// QueryValue returns the raw value of the first key=value pair named key in
// rawQuery (pairs separated by '&', as Node's querystring parses them) and
// whether there is one; a bare "key" gives an empty value. Key and value are
// compared and returned as sent, still percent-encoded: the input may be
// shared, so nothing is decoded in place. Use NeedsUnescape and
// AppendUnescape when a value may be encoded. Engine.IO's own parameters (EIO,
// transport, sid, t) never are.
//
// Node turns a repeated key into an array, so for "EIO=4&EIO=4" engine.io
// sees no valid EIO; QueryValue returns the first value.
func QueryValue(rawQuery []byte, key string) (value []byte, ok bool) {
	for q := rawQuery; len(q) > 0; {
		pair := q
		q = nil
		for i, c := range pair {
			if c == '&' {
				pair, q = pair[:i], pair[i+1:]
				break
			}
		}
		k, v := pair, pair[len(pair):]
		for i, c := range pair {
			if c == '=' {
				k, v = pair[:i], pair[i+1:]
				break
			}
		}
		if string(k) == key {
			return v[:len(v):len(v)], true
		}
	}
	return nil, false
}

// NeedsUnescape reports whether v holds a '%' or a '+', i.e. whether
// AppendUnescape would change it.
func NeedsUnescape(v []byte) bool {
	for _, c := range v {
		if c == '%' || c == '+' {
			return true
		}
	}
	return false
}

// AppendUnescape appends v decoded as a query component
// (application/x-www-form-urlencoded): '+' becomes a space and "%XX" the byte
// XX. A '%' not followed by two hex digits is kept as is, as Node's
// querystring.unescape does.
func AppendUnescape(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			c = unhex(v[i+1])<<4 | unhex(v[i+2])
			i += 2
		}
		dst = append(dst, c)
	}
	return dst
}
