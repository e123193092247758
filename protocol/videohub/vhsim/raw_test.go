package vhsim_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"standby/protocol/videohub/vhsim"
)

// The conformance tests talk to the simulator over TCP with this raw client and compare bytes
// with literal protocol text, so they do not share the codec the simulator is built on.

// timeout bounds every wait for something that should happen.
const timeout = 5 * time.Second

// silence is how long a test listens to conclude that nothing arrives (blackhole only).
const silence = 300 * time.Millisecond

func start(t *testing.T, opts vhsim.Options) *vhsim.Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	s, err := vhsim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// small is the router most tests use: 3 inputs, 2 outputs, fixed names.
func small(t *testing.T) *vhsim.Server {
	return start(t, vhsim.Options{Inputs: 3, Outputs: 2, Model: "Test Hub", FriendlyName: "Sim"})
}

type raw struct {
	t    *testing.T
	conn *net.TCPConn
	r    *bufio.Reader
}

// dial connects from 127.0.0.1.
func dial(t *testing.T, s *vhsim.Server) *raw { return dialFrom(t, s, "127.0.0.1") }

// dialFrom connects from localIP (any 127.0.0.0/8 address works on Linux loopback), so tests
// can play clients on different hosts.
func dialFrom(t *testing.T, s *vhsim.Server, localIP string) *raw {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: timeout}
	conn, err := d.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &raw{t: t, conn: conn.(*net.TCPConn), r: bufio.NewReader(conn)}
}

func (c *raw) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// readBlock reads up to and including the blank line that ends a block, within d.
func (c *raw) readBlock(d time.Duration) (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	var sb strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\n" {
			return sb.String(), nil
		}
	}
}

func (c *raw) block() string {
	c.t.Helper()
	b, err := c.readBlock(timeout)
	if err != nil {
		c.t.Fatalf("reading block: %v (got %q)", err, b)
	}
	return b
}

// expect reads one block per want and compares the text exactly.
func (c *raw) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.block(); got != w {
			c.t.Fatalf("got block\n%q\nwant\n%q", got, w)
		}
	}
}

// prelude reads blocks up to END PRELUDE and returns them.
func (c *raw) prelude() []string {
	c.t.Helper()
	var blocks []string
	for {
		b := c.block()
		blocks = append(blocks, b)
		if b == "END PRELUDE:\n\n" {
			return blocks
		}
	}
}

// sync sends PING and expects ACK as the very next block: everything the server queued for
// this client before handling the PING has then been read, so nothing unexpected was pushed.
func (c *raw) sync() {
	c.t.Helper()
	c.send("PING:\n\n")
	c.expect("ACK\n\n")
}

// expectSilence asserts that nothing arrives for a while (used only where the server must not
// answer at all).
func (c *raw) expectSilence() {
	c.t.Helper()
	b, err := c.readBlock(silence)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || b != "" {
		c.t.Fatalf("expected silence, got %q, err %v", b, err)
	}
}

// expectClosed reads until the server closes the connection.
func (c *raw) expectClosed() error {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatal("connection still open")
			}
			return err
		}
	}
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

const smallDevice = "VIDEOHUB DEVICE:\nDevice present: true\nModel name: Test Hub\nFriendly name: Sim\n" +
	"Unique ID: 5354414E4442\nVideo inputs: 3\nVideo processing units: 0\nVideo outputs: 2\n" +
	"Video monitoring outputs: 0\nSerial ports: 0\n\n"

// smallPrelude is the exact prelude of small() before any change.
var smallPrelude = []string{
	"PROTOCOL PREAMBLE:\nVersion: 2.8\n\n",
	smallDevice,
	"INPUT LABELS:\n0 Input 1\n1 Input 2\n2 Input 3\n\n",
	"OUTPUT LABELS:\n0 Output 1\n1 Output 2\n\n",
	"VIDEO OUTPUT LOCKS:\n0 U\n1 U\n\n",
	"VIDEO OUTPUT ROUTING:\n0 0\n1 1\n\n",
	"CONFIGURATION:\nTake Mode: false\n\n",
	"END PRELUDE:\n\n",
}
