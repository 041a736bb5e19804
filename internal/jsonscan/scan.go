// Package jsonscan reads and writes the small JSON values of PXP control
// lines without encoding/json's reflection: splitting an array into its
// elements, walking an object's members, decoding a string, and appending
// a string as encoding/json writes it.
//
// Each decoder gives exactly what encoding/json.Unmarshal gives for the
// same input (into []json.RawMessage, a string, or a map[string]
// json.RawMessage), errors included: it handles the common shapes itself
// (plain ASCII keys and strings without escapes, nesting up to
// MaxFastDepth) and hands anything else to encoding/json. Its fuzz tests
// hold the two to the same answers.
package jsonscan

// MaxFastDepth is the deepest nesting the scanner follows itself; deeper
// values go to encoding/json, whose limit is 10,000.
const MaxFastDepth = 256

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// SkipValue returns the end of the well-formed JSON value that starts at b[i]
// (no leading whitespace), or -1 when there is none or it nests deeper
// than MaxFastDepth.
func SkipValue(b []byte, i int) int {
	var stack [MaxFastDepth / 64]uint64 // bit set: that level is an object
	depth := 0
	for {
		// A value starts at i.
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == MaxFastDepth {
				return -1
			}
			obj := c == '{'
			if obj {
				stack[depth/64] |= 1 << (depth % 64)
			} else {
				stack[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			i = SkipSpace(b, i+1)
			if i < len(b) && (obj && b[i] == '}' || !obj && b[i] == ']') {
				depth--
				i++
				break // an empty container is a whole value
			}
			if obj {
				if i = member(b, i); i < 0 {
					return -1
				}
			}
			continue
		case '"':
			i = SkipString(b, i)
		case 't':
			i = literal(b, i, "true")
		case 'f':
			i = literal(b, i, "false")
		case 'n':
			i = literal(b, i, "null")
		default:
			i = SkipNumber(b, i)
		}
		if i < 0 {
			return -1
		}
		// A value ended at i: close what ends, or go on to the next
		// element or member.
		for next := false; !next; {
			if depth == 0 {
				return i
			}
			i = SkipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			obj := stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			switch b[i] {
			case ',':
				i = SkipSpace(b, i+1)
				if obj {
					if i = member(b, i); i < 0 {
						return -1
					}
				}
				next = true
			case '}', ']':
				if obj != (b[i] == '}') {
					return -1
				}
				depth--
				i++
			default:
				return -1
			}
		}
	}
}

// member reads an object member's key and colon at i; it returns where
// the value starts.
func member(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = SkipString(b, i); i < 0 {
		return -1
	}
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return SkipSpace(b, i+1)
}

func literal(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// SkipString returns the end of the well-formed JSON string at b[i], or -1.
// Bytes that are not valid UTF-8 are well-formed, as encoding/json takes
// them (decoding makes them U+FFFD).
func SkipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// SkipNumber returns the end of the well-formed JSON number at b[i], or -1.
func SkipNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i
}
