package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the bench started, in its own process group so that everything it starts
// dies with it. Its stdout and stderr go to a log file; lines of stderr are also handed to onLine.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser // nil unless asked for
	log   *os.File

	done chan struct{} // closed when the process has been reaped
	err  error         // Wait's result, valid after done
}

// childSpec describes a child to start.
type childSpec struct {
	name    string
	path    string
	args    []string
	env     []string // added to the bench's environment
	logPath string
	stdin   bool
	// onLine, when set, sees every line the child writes to stderr (on a reader goroutine).
	onLine func(line string)
	// onOut, when set, sees every line the child writes to stdout instead of the log file.
	onOut func(line string)
}

// procs owns every child of a setup: Close kills them all.
type procs struct {
	mu       sync.Mutex
	children []*child
	closed   bool
}

// start starts a child. It fails when procs is closed.
func (p *procs) start(s childSpec) (*child, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("bench is shutting down")
	}
	logPath := s.logPath
	if logPath == "" {
		logPath = os.DevNull
	}
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	// Own process group (kill(-pgid) reaches grandchildren); SIGKILL if the bench dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c := &child{name: s.name, cmd: cmd, log: lf, done: make(chan struct{})}
	var errPipe, outPipe io.ReadCloser
	if s.onOut != nil {
		if outPipe, err = cmd.StdoutPipe(); err != nil {
			lf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = lf
	}
	if s.onLine != nil {
		if errPipe, err = cmd.StderrPipe(); err != nil {
			lf.Close()
			return nil, err
		}
	} else {
		cmd.Stderr = lf
	}
	if s.stdin {
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			lf.Close()
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	var readers sync.WaitGroup
	var logMu sync.Mutex // both readers write the log file
	follow := func(pipe io.Reader, onLine func(string), tee bool) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r := bufio.NewReaderSize(pipe, 64<<10)
			for {
				line, err := r.ReadString('\n')
				if line != "" {
					if tee {
						logMu.Lock()
						_, _ = lf.WriteString(line)
						logMu.Unlock()
					}
					onLine(strings.TrimRight(line, "\n"))
				}
				if err != nil {
					return
				}
			}
		}()
	}
	if errPipe != nil {
		follow(errPipe, s.onLine, true)
	}
	if outPipe != nil {
		follow(outPipe, s.onOut, false)
	}
	go func() {
		readers.Wait() // Wait closes the pipe: read it to the end first
		c.err = cmd.Wait()
		lf.Close()
		close(c.done)
	}()
	p.children = append(p.children, c)
	return c, nil
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the child process only (not its group).
func (c *child) signal(sig syscall.Signal) error {
	if c.exited() {
		return fmt.Errorf("%s has exited", c.name)
	}
	return syscall.Kill(c.pid(), sig)
}

// kill kills the child's process group and waits (at most 5 s) until it is reaped.
func (c *child) kill() {
	if !c.exited() {
		_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
}

// stop asks the child to stop (SIGTERM) and kills it after grace.
func (c *child) stop(grace time.Duration) {
	if !c.exited() {
		_ = syscall.Kill(-c.pid(), syscall.SIGCONT) // a stopped process cannot act on SIGTERM
		_ = syscall.Kill(c.pid(), syscall.SIGTERM)
	}
	select {
	case <-c.done:
	case <-time.After(grace):
	}
	c.kill()
}

// send writes one line to the child's stdin.
func (c *child) send(line string) error {
	if c.stdin == nil {
		return fmt.Errorf("%s: no stdin", c.name)
	}
	_, err := io.WriteString(c.stdin, line+"\n")
	return err
}

// close stops every child: SIGTERM, then SIGKILL to the process groups after grace.
func (p *procs) close(grace time.Duration) {
	p.mu.Lock()
	p.closed = true
	children := p.children
	p.children = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop(grace)
		}()
	}
	wg.Wait()
}

// remove forgets an ended child (restarted engines), so procs does not grow over runs.
func (p *procs) remove(c *child) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.children {
		if x == c {
			p.children = append(p.children[:i], p.children[i+1:]...)
			return
		}
	}
}

// untilDone waits for ctx or the child's end, whichever first.
func (c *child) untilDone(ctx context.Context) error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited: %v (log %s)", c.name, c.err, c.log.Name())
	case <-ctx.Done():
		return ctx.Err()
	}
}
