package http1

// QueryValue returns the raw value of the first key=value pair named key in
// rawQuery (pairs separated by '&', as Node's querystring parses them) and
// whether there is one; a bare "key" gives an empty value. Key and value are
// compared and returned as sent, still percent-encoded: the input may be
// shared, so nothing is decoded in place. Engine.IO's own parameters (EIO,
// transport, sid, t) are never encoded.
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
