package proc

import (
	"os"
	"runtime"
	"testing"
)

// The test's own memory: the fields are read, consistent with each other,
// and anonymous memory grows by what the process touches.
func TestReadMemory(t *testing.T) {
	before, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.RSS <= 0 || before.Anon <= 0 || before.Anon > before.RSS || before.PSS > before.RSS || before.Peak < before.RSS || before.File != before.RSS-before.Anon {
		t.Fatalf("inconsistent: %+v", before)
	}
	const size = 64 << 20
	b := make([]byte, size)
	for i := 0; i < size; i += 4096 {
		b[i] = 1
	}
	after, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(b)
	if grew := after.Anon - before.Anon; grew < size/1024*9/10 {
		t.Fatalf("touching 64 MiB grew anonymous memory by %d KiB (%v -> %v)", grew, before, after)
	}
	if _, err := ReadMemory(-1); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
