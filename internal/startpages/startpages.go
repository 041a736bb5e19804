// Package startpages lets a long-running process hand back the pages of
// its executable that only its start-up touched.
//
// Go runs the initialiser of every package linked into a binary when the
// process starts, whatever the process goes on to do: `pex node` runs the
// BitTorrent side's initialisers (anacrolix/dht, go-multihash, goupnp,
// ...) although it never uses them, and the kernel maps the executable's
// pages 64 KiB at a time around each page touched (fault-around). The
// pages stay mapped, and counted in the process's resident set, for the
// process's life. Release unmaps the read-only pages of the executable
// and of the shared libraries it loaded (libc, with cgo) once start-up is
// over (madvise MADV_DONTNEED): they stay in the page cache,
// and the ones the process uses again are mapped again on their first
// touch, so the resident set becomes what the process runs, and pages it
// never touches again are the first the kernel reclaims.
//
// Only read-only private mappings of files the process maps code from are
// released, and of those only pages still backed by the file: a page the dynamic loader
// wrote (relocations before a read-only remap) is anonymous, and dropping
// it would lose what was written, so it is kept. Writable mappings (data,
// bss) are never touched. Release is a no-op outside Linux.
package startpages
