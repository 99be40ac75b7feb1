package cluster

import "unsafe"

// bstr returns a string that shares b's bytes, for calls that only read
// the string before returning (the msgpack encoder copies it into its
// output, strconv.ParseFloat reads it). It saves a copy per string
// argument; the string must not be kept, and b must not change while it
// is in use.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
