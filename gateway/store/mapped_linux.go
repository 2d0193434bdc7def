package store

import "syscall"

// releaseMapped takes the pages of a file mapping out of the process's
// resident memory: they stay in the kernel's page cache, so reading one
// again costs a minor fault, not I/O. Nothing is lost: bbolt maps the file
// read-only and writes it with pwrite. The mapping must stay in place
// meanwhile (a read transaction is open).
func releaseMapped(addr, size uintptr) error {
	if size == 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, size, syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
