package proctest

import "syscall"

// procAttr puts a server in a process group of its own, killed with the
// test binary.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
