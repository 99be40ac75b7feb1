package socketio

import "sioloop/protocol/internal/jsontext"

// AppendJSONString appends s as a JSON string literal, byte for byte as
// JavaScript's JSON.stringify writes the string that s decodes to:
//
//   - '"' and '\\' are escaped, and control characters become \b \t \n
//     \f \r or \u00xx (lower-case hex);
//   - '<', '>', '&', U+2028 and U+2029 are left as they are (unlike
//     encoding/json, which escapes them);
//   - invalid UTF-8 becomes U+FFFD exactly as Node's UTF-8 decoder
//     (WHATWG, "maximal subpart" rule) replaces it before any JavaScript
//     sees the text: one U+FFFD per invalid byte, except that a truncated
//     sequence such as "\xe2\x82" gives a single one (encoding/json
//     gives one per byte there).
//
// It does not allocate when dst has room.
func AppendJSONString(dst []byte, s []byte) []byte { return jsontext.AppendString(dst, s) }

// AppendJSONStringOf is AppendJSONString for a Go string, without the
// conversion to []byte.
func AppendJSONStringOf(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }

// appendQuoted is AppendJSONString for both strings and byte slices.
func appendQuoted[S ~string | ~[]byte](dst []byte, s S) []byte { return jsontext.AppendString(dst, s) }
