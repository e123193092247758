package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// finder locates the process a service watches: its pid, or why there is none.
type finder func() (pid int, err error)

// pidFinder watches one fixed pid.
func pidFinder(pid int) finder {
	return func() (int, error) { return pid, nil }
}

// pidfileFinder reads the pid from a file each time it is asked.
func pidfileFinder(path string) finder {
	return func() (int, error) {
		b, err := readSmall(path, 64)
		if err != nil {
			return 0, fmt.Errorf("pidfile %s: %w", path, errors.Unwrap(err))
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("pidfile %s: %q is not a pid", path, strings.TrimSpace(string(b)))
		}
		return pid, nil
	}
}

// matchFinder finds the lowest-numbered live process whose name (comm) or argv[0] base name is name.
func matchFinder(procDir, name string) finder {
	self := os.Getpid()
	return func() (int, error) {
		ents, err := os.ReadDir(procDir)
		if err != nil {
			return 0, err
		}
		best := 0
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self || (best != 0 && pid >= best) {
				continue
			}
			if processMatches(procDir, pid, name) {
				best = pid
			}
		}
		if best == 0 {
			return 0, fmt.Errorf("no process named %q", name)
		}
		return best, nil
	}
}

// processMatches reports whether pid is a live (not zombie) process named name.
func processMatches(procDir string, pid int, name string) bool {
	dir := filepath.Join(procDir, strconv.Itoa(pid))
	stat, err := readSmall(filepath.Join(dir, "stat"), 1024)
	if err != nil {
		return false
	}
	// "pid (comm) S ...": comm may itself hold spaces and parentheses, so cut at the last ')'.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open || end+2 >= len(stat) {
		return false
	}
	if stat[end+2] == 'Z' || stat[end+2] == 'X' {
		return false
	}
	if string(stat[open+1:end]) == name {
		return true
	}
	cmdline, err := readSmall(filepath.Join(dir, "cmdline"), 4096)
	if err != nil || len(cmdline) == 0 {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return filepath.Base(string(argv0)) == name
}

// readSmall reads at most limit bytes of a small file (pidfiles, /proc entries).
func readSmall(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, limit)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return buf[:n], nil
}

// processWatcher reports a process service: up while the process runs, down the moment it exits
// (Linux pidfd, seen through the Go runtime's poller, so no polling delay), and up again when a
// process is found later. A missing process is looked for every interval.
type processWatcher struct {
	find     finder
	interval time.Duration
	emit     func(up bool, reason string)
	// pollLoop makes waitExit poll the pidfd instead of using the runtime poller (tests cover it;
	// used on its own when the poller refuses a pidfd).
	pollLoop bool
}

// run watches until ctx ends.
func (w *processWatcher) run(ctx context.Context) {
	lastExited := 0 // a pid just seen exiting is not taken again (a zombie still shows in /proc)
	for ctx.Err() == nil {
		pid, err := w.find()
		if err == nil && pid == lastExited {
			err = fmt.Errorf("pid %d exited", pid)
		}
		var fd int
		if err == nil {
			fd, err = openPidfd(pid)
		}
		if err != nil {
			w.emit(false, err.Error())
			if !sleepCtx(ctx, w.interval) {
				return
			}
			continue
		}
		if pidfdExited(fd) {
			unix.Close(fd)
			lastExited = pid
			w.emit(false, fmt.Sprintf("pid %d exited", pid))
			continue
		}
		lastExited = 0
		w.emit(true, "")
		exited := w.waitExit(ctx, fd)
		if !exited {
			return // ctx ended
		}
		lastExited = pid
		w.emit(false, fmt.Sprintf("pid %d exited", pid))
		// Look again at once: under match another instance may already be running.
	}
}

// openPidfd opens a pidfd for pid, non-blocking so the runtime poller can wait on it.
func openPidfd(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return -1, fmt.Errorf("pid %d is not running", pid)
	case errors.Is(err, unix.ENOSYS):
		return -1, fmt.Errorf("pidfd_open: not supported by this kernel (Linux 5.3 or later is needed)")
	case err != nil:
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("pidfd %d: %w", pid, err)
	}
	return fd, nil
}

// pidfdExited reports whether the process behind fd has exited (the pidfd is readable).
func pidfdExited(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
	}
}

// waitExit blocks until the process behind fd exits (true) or ctx ends (false). It takes fd over.
func (w *processWatcher) waitExit(ctx context.Context, fd int) bool {
	if w.pollLoop {
		defer unix.Close(fd)
		return pollExit(ctx, fd)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return pollExit(ctx, int(f.Fd()))
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		exited = pidfdExited(int(fd))
		return exited
	})
	if exited {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	// The poller does not take this fd (err says why): poll it ourselves.
	_ = err
	var res bool
	_ = rc.Control(func(fd uintptr) { res = pollExit(ctx, int(fd)) })
	return res
}

// pollExit waits for fd to become readable with poll(2), waking every pollSlice to check ctx.
func pollExit(ctx context.Context, fd int) bool {
	const pollSlice = 100 // ms; only bounds how late a cancelled ctx is noticed
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for ctx.Err() == nil {
		n, err := unix.Poll(pfd, pollSlice)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
