package natsq

import (
	"os/exec"
	"runtime"
	"syscall"
)

// proc is a server process a test started, in a process group of its own.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// spawn starts cmd in a process group of its own. On Linux the process is
// also killed when the test binary dies (a panic, a timeout) without its
// cleanups: the parent-death signal follows the thread that started the
// process, so a goroutine locked to its thread starts it and waits for it.
func spawn(cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = procAttr()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(p.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// signal sends sig to p's process group.
func (p *proc) signal(sig syscall.Signal) {
	if p != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// kill kills p's process group, and only it, and waits for p. It is a
// no-op on nil.
func (p *proc) kill() {
	if p == nil {
		return
	}
	p.signal(syscall.SIGKILL)
	<-p.done
}
