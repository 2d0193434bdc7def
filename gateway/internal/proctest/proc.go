// Package proctest starts the real servers queue tests run against (nats-server,
// rabbitmq-server, epmd) as processes the test owns: each in a process
// group of its own, killed by its PID, and on Linux killed too when the
// test binary dies without its cleanups.
package proctest

import (
	"os/exec"
	"runtime"
	"syscall"
)

// Proc is a server process a test started, in a process group of its own.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Spawn starts cmd in a process group of its own. On Linux the process is
// also killed when the test binary dies (a panic, a timeout) without its
// cleanups: the parent-death signal follows the thread that started the
// process, so a goroutine locked to its thread starts it and waits for it.
func Spawn(cmd *exec.Cmd) (*Proc, error) {
	cmd.SysProcAttr = procAttr()
	p := &Proc{cmd: cmd, done: make(chan struct{})}
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

// Signal sends sig to p's process group.
func (p *Proc) Signal(sig syscall.Signal) {
	if p != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// Kill kills p's process group, and only it, and waits for p. It is a
// no-op on nil.
func (p *Proc) Kill() {
	if p == nil {
		return
	}
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }
