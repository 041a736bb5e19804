package loopback

import (
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// WaitUnread waits until c's socket holds bytes not read yet (SIOCINQ):
// what a close with bytes unread turns into a reset.
func WaitUnread(tb testing.TB, c *net.TCPConn) {
	tb.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		var n int32
		var errno syscall.Errno
		if err := rc.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
		}); err != nil {
			tb.Fatal(err)
		}
		if errno != 0 {
			tb.Fatal(errno)
		}
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond) // loopback delivers within the write; this rarely loops
	}
}
