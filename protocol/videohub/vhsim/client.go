package vhsim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"standby/protocol/videohub"
)

// readBufSize is the size of one read from a client; blocks span reads freely.
const readBufSize = 4096

// client is one TCP connection. Its reader handles blocks in order; its writer drains a byte
// queue, so the server enqueues replies and pushes without ever blocking on a socket.
type client struct {
	s    *Server
	conn *net.TCPConn
	ip   string // lock owner identity
	log  zerolog.Logger
	rng  *rand.Rand // random write chunking; writer goroutine only

	mu      sync.Mutex
	pending []byte // bytes waiting for the writer
	eof     bool   // the client finished sending: close once pending is written

	wake      chan struct{} // capacity 1: the queue has data
	done      chan struct{} // closed by close
	closeOnce sync.Once
}

func newClient(s *Server, conn *net.TCPConn, id uint64) *client {
	addr := conn.RemoteAddr().(*net.TCPAddr)
	return &client{
		s:    s,
		conn: conn,
		ip:   addr.IP.String(),
		log:  s.log.With().Uint64("client", id).Str("remote", addr.String()).Logger(),
		rng:  rand.New(rand.NewPCG(s.opts.Seed, id)),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// enqueue queues b for the writer without blocking. A client whose queue would pass MaxQueue is
// too slow to keep: its connection is closed and its reader and writer clean up. Safe to call
// with Server.mu held.
func (c *client) enqueue(b []byte) {
	c.mu.Lock()
	full := len(c.pending)+len(b) > c.s.opts.MaxQueue
	if !full {
		c.pending = append(c.pending, b...)
	}
	c.mu.Unlock()
	if full {
		c.log.Warn().Int("max_queue", c.s.opts.MaxQueue).Msg("client too slow, dropping it")
		// RST: a graceful close would keep trickling stale data into a full window for seconds.
		c.conn.SetLinger(0)
		c.conn.Close()
		return
	}
	c.signal()
}

// close ends the connection once. It takes Server.mu, so never call it with Server.mu held.
func (c *client) close(reason error) {
	c.closeOnce.Do(func() {
		c.conn.Close()
		close(c.done)
		c.s.removeClient(c)
		ev := c.log.Info()
		if reason != nil && !errors.Is(reason, io.EOF) && !errors.Is(reason, net.ErrClosed) {
			ev = c.log.Warn().Err(reason)
		}
		ev.Msg("client disconnected")
	})
}

// waitOpen blocks while the server is blackholed. It returns false if the client or the server
// closed meanwhile.
func (c *client) waitOpen() bool {
	for g := c.s.gate(); g != nil; g = c.s.gate() {
		select {
		case <-g:
		case <-c.done:
			return false
		case <-c.s.done:
			return false
		}
	}
	return true
}

// ackDelay waits out the ACK delay fault, if any. It returns false if the client or the server
// closed meanwhile.
func (c *client) ackDelay() bool {
	d := c.s.Faults().AckDelay
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	case <-c.s.done:
		return false
	}
}

func (c *client) readLoop() {
	defer c.s.wg.Done()
	var p videohub.Parser
	buf := make([]byte, readBufSize)
	for {
		if !c.waitOpen() {
			c.close(nil)
			return
		}
		n, err := c.conn.Read(buf)
		blocks, perr := p.Feed(buf[:n])
		for _, b := range blocks {
			if !c.waitOpen() || !c.ackDelay() {
				c.close(nil)
				return
			}
			c.s.handle(c, b)
		}
		if perr != nil {
			c.close(fmt.Errorf("garbage from client: %w", perr))
			return
		}
		if errors.Is(err, io.EOF) {
			// The client half-closed (e.g. `printf 'PING:\n\n' | nc`): answer, then close.
			c.mu.Lock()
			c.eof = true
			c.mu.Unlock()
			c.signal()
			return
		}
		if err != nil {
			c.close(err)
			return
		}
	}
}

// signal wakes the writer.
func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *client) writeLoop() {
	defer c.s.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			buf, eof := c.pending, c.eof
			c.pending = nil
			c.mu.Unlock()
			if len(buf) == 0 {
				if eof {
					c.close(io.EOF)
					return
				}
				break
			}
			if err := c.write(buf); err != nil {
				c.close(err)
				return
			}
		}
	}
}

// write sends buf, split as the write-split fault says, pausing while blackholed.
func (c *client) write(buf []byte) error {
	for len(buf) > 0 {
		if !c.waitOpen() {
			return net.ErrClosed
		}
		f := c.s.Faults()
		n := len(buf)
		switch {
		case f.RandomChunks:
			limit := f.WriteChunk
			if limit <= 0 {
				limit = 64
			}
			n = min(n, 1+c.rng.IntN(limit))
		case f.WriteChunk > 0:
			n = min(n, f.WriteChunk)
		}
		if err := c.conn.SetWriteDeadline(time.Now().Add(c.s.opts.WriteTimeout)); err != nil {
			return err
		}
		if _, err := c.conn.Write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}
