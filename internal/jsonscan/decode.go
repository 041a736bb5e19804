package jsonscan

import (
	"encoding/json"
	"strconv"
)

// plainEnd returns the end of the JSON string at b[i] when it holds only
// printable ASCII and no escapes (its bytes are its value), or -1.
func plainEnd(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20 || c > 0x7e || c == '\\':
			return -1
		}
	}
	return -1
}

// Plain reports whether v is a whole JSON string of printable ASCII
// without escapes: v[1:len(v)-1] is its value.
func Plain(v []byte) bool { return plainEnd(v, 0) == len(v) }

// PlainString returns the value of the JSON string v, which must be the
// whole of v, when it holds only printable ASCII and no escapes; ok is
// false for anything else (which DecodeString decodes).
func PlainString(v []byte) (s string, ok bool) {
	if plainEnd(v, 0) != len(v) {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

// isNull reports whether raw is null, with any whitespace around it.
func isNull(raw []byte) bool {
	i := SkipSpace(raw, 0)
	return literal(raw, i, "null") > 0 && SkipSpace(raw, i+4) == len(raw)
}

// DecodeArray is json.Unmarshal(raw, &dst) for dst a []json.RawMessage,
// except that the elements alias raw instead of being copies.
func DecodeArray(raw []byte, dst []json.RawMessage) ([]json.RawMessage, error) {
	if out, ok := scanArray(raw, dst[:0]); ok {
		return out, nil
	}
	if isNull(raw) {
		return nil, nil
	}
	// A slice of its own: dst's address given to Unmarshal would put dst,
	// and the array the caller lent in it, on the heap for every call.
	var out []json.RawMessage
	err := json.Unmarshal(raw, &out)
	return out, err
}

// scanArray appends the elements of the array raw holds to dst; ok is
// false when raw is anything else, or nests too deep.
func scanArray(raw []byte, dst []json.RawMessage) (_ []json.RawMessage, ok bool) {
	i := SkipSpace(raw, 0)
	if i == len(raw) || raw[i] != '[' {
		return nil, false
	}
	if i = SkipSpace(raw, i+1); i < len(raw) && raw[i] == ']' {
		if dst == nil {
			dst = []json.RawMessage{} // empty, not null
		}
		return dst, SkipSpace(raw, i+1) == len(raw)
	}
	for {
		e := SkipValue(raw, i)
		if e < 0 {
			return nil, false
		}
		dst = append(dst, raw[i:e])
		if i = SkipSpace(raw, e); i == len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ']':
			return dst, SkipSpace(raw, i+1) == len(raw)
		case ',':
			i = SkipSpace(raw, i+1)
		default:
			return nil, false
		}
	}
}

// DecodeString is json.Unmarshal(raw, &s) for s a string that starts
// empty: null gives "".
func DecodeString(raw []byte) (string, error) {
	i := SkipSpace(raw, 0)
	if e := plainEnd(raw, i); e > 0 && SkipSpace(raw, e) == len(raw) {
		return string(raw[i+1 : e-1]), nil
	}
	if isNull(raw) {
		return "", nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// DecodeFloat is json.Unmarshal(raw, &f) for f a float64 that starts 0.
func DecodeFloat(raw []byte) (float64, error) {
	i := SkipSpace(raw, 0)
	if e := SkipNumber(raw, i); e > 0 && SkipSpace(raw, e) == len(raw) {
		if f, err := strconv.ParseFloat(string(raw[i:e]), 64); err == nil {
			return f, nil
		}
	}
	if isNull(raw) {
		return 0, nil
	}
	var f float64
	err := json.Unmarshal(raw, &f)
	return f, err
}

// maxFastMembers is the most members DecodeObject reads without
// encoding/json.
const maxFastMembers = 16

// DecodeObject calls member for each member of the object raw holds, and
// reports whether raw is one: the result of json.Unmarshal(raw, &m) for m
// a map[string]json.RawMessage that comes out non-nil without an error.
// A key given twice may be told twice, in order, or once, with its last
// value: a member func that assigns comes to what the map holds. value
// aliases raw or is a copy; key is valid only during the call.
func DecodeObject(raw []byte, member func(key, value []byte)) bool {
	var kv Members
	if n, ok := ScanObject(raw, &kv); ok {
		for _, m := range kv[:n] {
			member(m[0], m[1])
		}
		return true
	}
	if isNull(raw) {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return false
	}
	for k, v := range m {
		member([]byte(k), v)
	}
	return true
}

// Members holds an object's keys and values, in order, for ScanObject.
type Members [maxFastMembers][2][]byte

// ScanObject puts the keys and values of the object raw holds in kv, in
// order, and returns how many; ok is false when raw is anything else, has
// a key that is not plain or more than 16 members, or nests too deep
// (DecodeObject then reads it with encoding/json). Keys and values alias
// raw.
func ScanObject(raw []byte, kv *Members) (n int, ok bool) {
	i := SkipSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return 0, false
	}
	if i = SkipSpace(raw, i+1); i < len(raw) && raw[i] == '}' {
		return 0, SkipSpace(raw, i+1) == len(raw)
	}
	for ; n < maxFastMembers; n++ {
		k := plainEnd(raw, i)
		if k < 0 {
			return 0, false
		}
		kv[n][0] = raw[i+1 : k-1]
		if i = SkipSpace(raw, k); i == len(raw) || raw[i] != ':' {
			return 0, false
		}
		i = SkipSpace(raw, i+1)
		e := SkipValue(raw, i)
		if e < 0 {
			return 0, false
		}
		kv[n][1] = raw[i:e]
		if i = SkipSpace(raw, e); i == len(raw) {
			return 0, false
		}
		switch raw[i] {
		case '}':
			return n + 1, SkipSpace(raw, i+1) == len(raw)
		case ',':
			i = SkipSpace(raw, i+1)
		default:
			return 0, false
		}
	}
	return 0, false
}

// AppendString appends s as json.Marshal writes it: quoted, with <, > and
// & escaped among the rest.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
