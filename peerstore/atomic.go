package peerstore

import (
	"fmt"
	"os"
	"path/filepath"
)

// The file's atomic write: a temporary file beside it, fsynced, renamed
// over it, the directory fsynced; and the clean-up of what a write killed
// midway leaves.

// tempPrefix names the temporary files of a write beside path.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// writeAtomic replaces path with b: a temporary file, fsynced, renamed
// over path, then the directory fsynced so that the rename is durable.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = writeFile(f, b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("peerstore: write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// writeFile writes b to f; the kill test writes slowly, piece by piece.
var writeFile = func(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}

// removeTemps removes what a write killed midway left behind.
func removeTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix(path)+"*"))
	for _, m := range matches {
		os.Remove(m)
	}
}
