// Package bencode is a small, strict bencode codec (BEP 3) for the bt
// packages.
//
// # Format
//
//	integer  i<decimal>e        no leading zeros, no "-0"
//	string   <length>:<bytes>   length in decimal, no leading zeros
//	list     l<values>e
//	dict     d(<string key><value>)*e   keys unique (sorted when encoded)
//
// Decode builds generic values: int64, string (any bytes), []any and
// map[string]any. Nesting depth and lengths are bounded; malformed input gives
// a *SyntaxError, never a panic. Encode writes dict keys sorted.
//
// The Read* and Skip functions work on a byte slice without allocating, for
// hot paths such as the ut_pex codec.
package bencode

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// MaxDepth bounds nesting of lists and dicts.
const MaxDepth = 32

// SyntaxError is malformed bencode.
type SyntaxError struct {
	Offset int // from the start of the input given to Decode
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bencode: %s at byte %d", e.Reason, e.Offset)
}

// ErrTrailing is wrapped when Decode finds bytes after the value.
var ErrTrailing = errors.New("bencode: trailing data after the value")

func syntax(b, all []byte, reason string) error {
	return &SyntaxError{Offset: len(all) - len(b), Reason: reason}
}

// ReadInt reads an integer at the start of b.
func ReadInt(b []byte) (n int64, rest []byte, err error) {
	if len(b) < 3 || b[0] != 'i' {
		return 0, b, errors.New("bencode: expected an integer")
	}
	i := 1
	neg := false
	if b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var v uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := uint64(b[i] - '0')
		if v > (1<<63-1)/10 {
			return 0, b, errors.New("bencode: integer overflows int64")
		}
		v = v*10 + d
		i++
	}
	digits := i - start
	switch {
	case digits == 0:
		return 0, b, errors.New("bencode: integer without digits")
	case i >= len(b) || b[i] != 'e':
		return 0, b, errors.New("bencode: unterminated integer")
	case digits > 1 && b[start] == '0':
		return 0, b, errors.New("bencode: integer with a leading zero")
	case neg && v == 0:
		return 0, b, errors.New("bencode: negative zero")
	case v > 1<<63-1 && !(neg && v == 1<<63):
		return 0, b, errors.New("bencode: integer overflows int64")
	}
	n = int64(v)
	if neg {
		n = -n
	}
	return n, b[i+1:], nil
}

// ReadString reads a byte string at the start of b. str aliases b.
func ReadString(b []byte) (str, rest []byte, err error) {
	i := 0
	var n uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + uint64(b[i]-'0')
		if n > uint64(len(b)) {
			return nil, b, errors.New("bencode: string longer than the input")
		}
		i++
	}
	switch {
	case i == 0:
		return nil, b, errors.New("bencode: expected a string")
	case i > 1 && b[0] == '0':
		return nil, b, errors.New("bencode: string length with a leading zero")
	case i >= len(b) || b[i] != ':':
		return nil, b, errors.New("bencode: string length without ':'")
	}
	i++
	if uint64(len(b)-i) < n {
		return nil, b, errors.New("bencode: string longer than the input")
	}
	end := i + int(n)
	return b[i:end], b[end:], nil
}

// Skip passes over one value of any kind at the start of b.
func Skip(b []byte) (rest []byte, err error) { return skip(b, 0) }

func skip(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return b, errors.New("bencode: unexpected end of input")
	}
	switch c := b[0]; {
	case c == 'i':
		_, rest, err := ReadInt(b)
		return rest, err
	case c >= '0' && c <= '9':
		_, rest, err := ReadString(b)
		return rest, err
	case c == 'l' || c == 'd':
		if depth >= MaxDepth {
			return b, errors.New("bencode: nested too deeply")
		}
		b = b[1:]
		for {
			if len(b) == 0 {
				return b, errors.New("bencode: unterminated list or dict")
			}
			if b[0] == 'e' {
				return b[1:], nil
			}
			var err error
			if c == 'd' {
				if _, b, err = ReadString(b); err != nil {
					return b, err
				}
			}
			if b, err = skip(b, depth+1); err != nil {
				return b, err
			}
		}
	}
	return b, fmt.Errorf("bencode: unexpected byte %q", b[0])
}

// Decode decodes one whole value. Bytes after it are an error wrapping
// ErrTrailing (the value is still returned).
func Decode(b []byte) (any, error) {
	v, rest, err := DecodePrefix(b)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return v, fmt.Errorf("%w (%d bytes)", ErrTrailing, len(rest))
	}
	return v, nil
}

// DecodePrefix decodes the value at the start of b and returns what follows.
func DecodePrefix(b []byte) (v any, rest []byte, err error) {
	v, rest, err = decode(b, b, 0)
	return v, rest, err
}

func decode(b, all []byte, depth int) (any, []byte, error) {
	if len(b) == 0 {
		return nil, b, syntax(b, all, "unexpected end of input")
	}
	switch c := b[0]; {
	case c == 'i':
		n, rest, err := ReadInt(b)
		if err != nil {
			return nil, b, syntax(b, all, err.Error()[len("bencode: "):])
		}
		return n, rest, nil
	case c >= '0' && c <= '9':
		s, rest, err := ReadString(b)
		if err != nil {
			return nil, b, syntax(b, all, err.Error()[len("bencode: "):])
		}
		return string(s), rest, nil
	case c == 'l':
		if depth >= MaxDepth {
			return nil, b, syntax(b, all, "nested too deeply")
		}
		list := []any{}
		b = b[1:]
		for {
			if len(b) == 0 {
				return nil, b, syntax(b, all, "unterminated list")
			}
			if b[0] == 'e' {
				return list, b[1:], nil
			}
			v, rest, err := decode(b, all, depth+1)
			if err != nil {
				return nil, rest, err
			}
			list = append(list, v)
			b = rest
		}
	case c == 'd':
		if depth >= MaxDepth {
			return nil, b, syntax(b, all, "nested too deeply")
		}
		dict := map[string]any{}
		b = b[1:]
		for {
			if len(b) == 0 {
				return nil, b, syntax(b, all, "unterminated dict")
			}
			if b[0] == 'e' {
				return dict, b[1:], nil
			}
			k, rest, err := ReadString(b)
			if err != nil {
				return nil, b, syntax(b, all, "dict key: "+err.Error()[len("bencode: "):])
			}
			key := string(k)
			if _, dup := dict[key]; dup {
				return nil, b, syntax(b, all, fmt.Sprintf("duplicate dict key %q", truncate(key)))
			}
			v, rest, err := decode(rest, all, depth+1)
			if err != nil {
				return nil, rest, err
			}
			dict[key] = v
			b = rest
		}
	}
	return nil, b, syntax(b, all, fmt.Sprintf("unexpected byte %q", b[0]))
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// Encode encodes v: integers (int, int64, uint16, ...), string, []byte,
// []any, []string, map[string]any. Dict keys are written sorted.
func Encode(v any) ([]byte, error) { return Append(nil, v) }

// Append appends the encoding of v to dst.
func Append(dst []byte, v any) ([]byte, error) { return appendValue(dst, v, 0) }

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, errors.New("bencode: nested too deeply")
	}
	switch x := v.(type) {
	case int:
		return AppendInt(dst, int64(x)), nil
	case int64:
		return AppendInt(dst, x), nil
	case int32:
		return AppendInt(dst, int64(x)), nil
	case uint16:
		return AppendInt(dst, int64(x)), nil
	case uint32:
		return AppendInt(dst, int64(x)), nil
	case bool:
		if x {
			return AppendInt(dst, 1), nil
		}
		return AppendInt(dst, 0), nil
	case string:
		return AppendString(dst, x), nil
	case []byte:
		return AppendBytes(dst, x), nil
	case []string:
		dst = append(dst, 'l')
		for _, s := range x {
			dst = AppendString(dst, s)
		}
		return append(dst, 'e'), nil
	case []any:
		dst = append(dst, 'l')
		for _, e := range x {
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, 'd')
		for _, k := range keys {
			dst = AppendString(dst, k)
			var err error
			if dst, err = appendValue(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	}
	return dst, fmt.Errorf("bencode: cannot encode %T", v)
}

// AppendInt appends i<n>e.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

// AppendString appends <len>:<s>.
func AppendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendBytes appends <len>:<b>.
func AppendBytes(dst []byte, b []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ':')
	return append(dst, b...)
}
