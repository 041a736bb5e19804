package psk

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/blake2s"
)

// KeySize is the length of a network key: 256 bits.
const KeySize = 32

// Key is a network key: the secret every member of a private network holds.
type Key [KeySize]byte

// The key file format is libp2p's swarm.key (its private networks'): three
// lines, the format's path, the encoding of the key, and the key.
//
//	/key/swarm/psk/1.0.0/
//	/base16/
//	8b4f5c0e...(64 hex digits)
//
// /base64/ (standard, padded) is read too. White space around each line and
// a final line break are ignored; anything else (another path or encoding,
// a key that is not 32 bytes, more lines, a key of zeros) is refused.
// The key the file holds is not used as it is: the Noise pre-shared key is
// derived from it under a label of pex's own (noisePSK), so that a file
// shared with another program keys pex apart from it.
const (
	FileHeader = "/key/swarm/psk/1.0.0/"
	encBase16  = "/base16/"
	encBase64  = "/base64/"
)

// MaxFileSize bounds a key file read by LoadKey.
const MaxFileSize = 4096

// ErrKeyFormat: a key file or text that is not a network key.
var ErrKeyFormat = errors.New("psk: not a network key")

// GenerateKey returns a new random key from the system's secret randomness.
func GenerateKey() (*Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	return &k, nil
}

// ParseKey reads a key file's contents.
func ParseKey(b []byte) (*Key, error) {
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes, more than a key file holds", ErrKeyFormat, len(b))
	}
	lines := strings.Split(strings.TrimRight(string(b), " \t\r\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	if lines[0] != FileHeader {
		return nil, fmt.Errorf("%w: the first line is not %s", ErrKeyFormat, FileHeader)
	}
	if len(lines) != 3 {
		return nil, fmt.Errorf("%w: want 3 lines (%s, the encoding, the key), got %d", ErrKeyFormat, FileHeader, len(lines))
	}
	var raw []byte
	var err error
	switch lines[1] {
	case encBase16:
		raw, err = hex.DecodeString(lines[2])
	case encBase64:
		raw, err = base64.StdEncoding.DecodeString(lines[2])
	default:
		return nil, fmt.Errorf("%w: the encoding %q is neither %s nor %s", ErrKeyFormat, truncate(lines[1]), encBase16, encBase64)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the key line is not %s: %v", ErrKeyFormat, strings.Trim(lines[1], "/"), err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: the key is %d bytes, want %d (256 random bits)", ErrKeyFormat, len(raw), KeySize)
	}
	var k Key
	copy(k[:], raw)
	if k == (Key{}) {
		return nil, fmt.Errorf("%w: the key is all zeros", ErrKeyFormat)
	}
	return &k, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// LoadKey reads the key file at path.
func LoadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// MarshalText returns the key file's contents, in base16.
func (k *Key) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(FileHeader + "\n" + encBase16 + "\n")
	b.WriteString(hex.EncodeToString(k[:]))
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// Fingerprint names the key without revealing it: 16 hex digits of a hash
// of it, for logs and for operators comparing their nodes' keys. It is
// never sent on the wire.
func (k *Key) Fingerprint() string {
	d := k.derive("pex network key fingerprint")
	return hex.EncodeToString(d[:8])
}

// noisePSK is the Noise pre-shared key the key stands for.
func (k *Key) noisePSK() [32]byte { return k.derive("pex network key: Noise_NNpsk0 psk, v1") }

// derive is BLAKE2s-256 keyed with the key over label.
func (k *Key) derive(label string) [32]byte {
	h, _ := blake2s.New256(k[:])
	h.Write([]byte(label))
	var out [32]byte
	h.Sum(out[:0])
	return out
}
