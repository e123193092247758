package vhsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// ErrClosed is returned by the in-process API after Close.
var ErrClosed = errors.New("vhsim: server closed")

// State is a snapshot of the simulated router. Indices are 0-based, as on the wire.
type State struct {
	Present      bool     // a device is attached (see SetDevicePresent)
	FriendlyName string   // current "Friendly name"
	InputLabels  []string // label of each input
	OutputLabels []string // label of each output
	Routes       []int    // Routes[out] is the input routed to output out
	LockOwners   []string // LockOwners[out] is the IP that locked output out, "" if unlocked
	TakeMode     bool     // CONFIGURATION "Take Mode"
	Clients      int      // connected clients
	Accepted     int      // connections accepted since start (a reconnecting client counts again)
}

func (st State) clone() State {
	st.InputLabels = slices.Clone(st.InputLabels)
	st.OutputLabels = slices.Clone(st.OutputLabels)
	st.Routes = slices.Clone(st.Routes)
	st.LockOwners = slices.Clone(st.LockOwners)
	return st
}

// Server is a running simulated Videohub. Its methods are safe for concurrent use.
type Server struct {
	opts Options // fixed after Start
	log  zerolog.Logger
	ln   *net.TCPListener

	mu        sync.Mutex
	st        State
	faults    Faults
	blackhole chan struct{} // nil while answering; closed when the blackhole ends
	clients   map[*client]struct{}
	changed   chan struct{} // closed and replaced on every State change
	nextID    uint64        // client counter, for logs and chunking seeds
	commands  []RoutingCommand

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Start validates opts, listens and serves in the background until Close.
func Start(opts Options) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("vhsim: %w", err)
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger.With().Str("component", "vhsim").Logger(),
		ln:      ln.(*net.TCPListener),
		faults:  opts.Faults,
		clients: make(map[*client]struct{}),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
		st: State{
			Present:      true,
			FriendlyName: opts.FriendlyName,
			InputLabels:  defaultLabels("Input", opts.Inputs, opts.InputLabels),
			OutputLabels: defaultLabels("Output", opts.Outputs, opts.OutputLabels),
			Routes:       make([]int, opts.Outputs),
			LockOwners:   make([]string, opts.Outputs),
		},
	}
	for out := range s.st.Routes { // a fresh router shows something on every output
		s.st.Routes[out] = out % opts.Inputs
	}
	s.log.Info().Str("addr", s.Addr()).Int("inputs", opts.Inputs).Int("outputs", opts.Outputs).
		Str("model", opts.Model).Msg("videohub simulator listening")
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Run starts a server and serves until ctx is cancelled, then closes it. If opts.Control is set,
// it runs the control commands read from it meanwhile.
func Run(ctx context.Context, opts Options) error {
	s, err := Start(opts)
	if err != nil {
		return err
	}
	if opts.Control != nil {
		out := opts.ControlOut
		if out == nil {
			out = io.Discard
		}
		go s.serveControl(opts.Control, out)
	}
	<-ctx.Done()
	return s.Close()
}

func defaultLabels(prefix string, n int, given []string) []string {
	labels := make([]string, n)
	for i := range labels {
		if i < len(given) {
			labels[i] = given[i]
		} else {
			labels[i] = fmt.Sprintf("%s %d", prefix, i+1)
		}
	}
	return labels
}

// Addr returns the address the server listens on, e.g. "127.0.0.1:40123".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, disconnects every client and waits for the server's goroutines.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.ln.Close()
		s.mu.Lock()
		for c := range s.clients {
			c.conn.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		s.log.Info().Msg("videohub simulator stopped")
	})
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptTCP()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			s.log.Warn().Err(err).Msg("accept failed")
			// Back off so a persistent error (out of file descriptors) does not spin.
			select {
			case <-time.After(50 * time.Millisecond):
			case <-s.done:
				return
			}
			continue
		}
		s.addClient(conn)
	}
}

// State returns a snapshot of the router.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.clone()
}

// RoutingCommand is one routing block a client sent: who (its IP, as locks know it), when, and
// the routes it asked for, applied or not.
type RoutingCommand struct {
	At     time.Time
	From   string
	Routes map[int]int // output → input, 0-based
}

// maxCommands bounds the routing command log.
const maxCommands = 10000

// Commands returns the routing commands received so far (the latest maxCommands): tests of
// supervisor pairs check from it that only one supervisor ever routes at a time.
func (s *Server) Commands() []RoutingCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RoutingCommand(nil), s.commands...)
}

// Changed returns a channel that is closed at the next change of State (routing, labels, locks,
// take mode, name, presence or client count).
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Wait blocks until cond holds for the State, or ctx ends. It returns the State cond accepted, or
// the last State seen and ctx's error. cond runs without locks held, on a private copy.
func (s *Server) Wait(ctx context.Context, cond func(State) bool) (State, error) {
	for {
		s.mu.Lock()
		st, ch := s.st.clone(), s.changed
		s.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, ctx.Err()
		case <-s.done:
			return st, ErrClosed
		}
	}
}

// WaitRoute blocks until output out is routed to input in (0-based), or ctx ends.
func (s *Server) WaitRoute(ctx context.Context, out, in int) error {
	_, err := s.Wait(ctx, func(st State) bool { return out < len(st.Routes) && st.Routes[out] == in })
	return err
}

// notifyLocked wakes Wait callers. Call with s.mu held after changing s.st.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Faults returns the current fault switches.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces all fault switches at once.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	s.log.Info().Interface("faults", f).Msg("faults set")
	return nil
}

func (s *Server) updateFaults(update func(*Faults)) {
	s.mu.Lock()
	update(&s.faults)
	f := s.faults
	s.mu.Unlock()
	s.log.Info().Interface("faults", f).Msg("faults set")
}

// SetLockedRouteReply sets the reply to routing an output locked by another IP.
func (s *Server) SetLockedRouteReply(r LockedRouteReply) {
	s.updateFaults(func(f *Faults) { f.LockedRoute = r })
}

// SetEndPrelude switches END PRELUDE at the end of the prelude (and re-dumps) on or off.
func (s *Server) SetEndPrelude(on bool) { s.updateFaults(func(f *Faults) { f.NoEndPrelude = !on }) }

// SetRoutingMode sets partial or atomic handling of multi-line routing blocks.
func (s *Server) SetRoutingMode(m RoutingMode) { s.updateFaults(func(f *Faults) { f.Routing = m }) }

// SetWriteSplit splits later writes to clients: chunk > 0 caps each write at chunk bytes (1 is
// one byte per write); random picks each size at random from 1 to chunk (or 64 if chunk is 0).
// SetWriteSplit(0, false) writes whole replies again. Negative chunks count as 0.
func (s *Server) SetWriteSplit(chunk int, random bool) {
	s.updateFaults(func(f *Faults) { f.WriteChunk, f.RandomChunks = max(chunk, 0), random })
}

// SetAckDelay delays the handling (and so the reply) of every later client block by d.
func (s *Server) SetAckDelay(d time.Duration) {
	s.updateFaults(func(f *Faults) { f.AckDelay = max(d, 0) })
}

// SetBlackhole on makes the server go silent without closing anything, like a router whose
// cable was pulled: it stops reading from and writing to every client (new connections too),
// keeping sockets open. Off resumes: bytes that clients sent meanwhile are then handled, and
// queued pushes sent, in order.
func (s *Server) SetBlackhole(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.blackhole == nil:
		s.blackhole = make(chan struct{})
	case !on && s.blackhole != nil:
		close(s.blackhole)
		s.blackhole = nil
	default:
		return
	}
	s.log.Info().Bool("blackhole", on).Msg("blackhole switched")
}

// gate returns a channel to wait on before reading or writing, or nil when not blackholed.
func (s *Server) gate() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blackhole
}

// Reset closes every client connection with a TCP RST (SO_LINGER 0), like a router rebooting.
// The server keeps listening; locks, routes and labels are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		c.conn.SetLinger(0)
		c.conn.Close()
	}
	s.log.Info().Int("clients", len(s.clients)).Msg("reset all client connections")
}

// SetDevicePresent detaches (false) or attaches (true) the simulated device. Detaching pushes
// "Device present: false" to every client and NAKs every later request except PING and dump
// requests of VIDEOHUB DEVICE. Attaching pushes every block of the prelude except the preamble,
// as a Videohub Server does when a device is attached. Nothing is sent if nothing changes.
func (s *Server) SetDevicePresent(present bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setPresentLocked(present)
}

// Reattach pushes "Device present: false" and then the full re-dump, as when a device is
// unplugged and attached again.
func (s *Server) Reattach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setPresentLocked(false)
	s.setPresentLocked(true)
}

func (s *Server) setPresentLocked(present bool) {
	if s.st.Present == present {
		return
	}
	s.st.Present = present
	s.notifyLocked()
	s.log.Info().Bool("present", present).Msg("device presence changed")
	for c := range s.clients {
		c.enqueue(s.dumpLocked(c.ip, false))
	}
}

// SetRoute routes output out to input in (0-based) as if from the front panel, ignoring locks,
// and pushes the change to every client.
func (s *Server) SetRoute(out, in int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(out, s.opts.Outputs, "output"); err != nil {
		return err
	}
	if err := s.checkLocked(in, s.opts.Inputs, "input"); err != nil {
		return err
	}
	s.applyRoutesLocked(routesOf(out, in))
	return nil
}

// SetInputLabel sets the label of input in (0-based) and pushes it to every client.
func (s *Server) SetInputLabel(in int, text string) error {
	return s.setLabel(true, in, text)
}

// SetOutputLabel sets the label of output out (0-based) and pushes it to every client.
func (s *Server) SetOutputLabel(out int, text string) error {
	return s.setLabel(false, out, text)
}

func (s *Server) setLabel(input bool, idx int, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, what := s.opts.Outputs, "output"
	if input {
		n, what = s.opts.Inputs, "input"
	}
	if err := s.checkLocked(idx, n, what); err != nil {
		return err
	}
	s.applyLabelsLocked(input, labelsOf(idx, text))
	return nil
}

// SetLockOwner sets the owner IP of output out's lock ("" unlocks), as a panel at that IP would,
// and pushes the change to every client, each with its own view (O, L or U).
func (s *Server) SetLockOwner(out int, ip string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(out, s.opts.Outputs, "output"); err != nil {
		return err
	}
	s.applyLocksLocked([]lockChange{{out, ip}})
	return nil
}

func (s *Server) checkLocked(idx, n int, what string) error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	if idx < 0 || idx >= n {
		return fmt.Errorf("vhsim: %s %d out of range (0-based, %d %ss)", what, idx, n, what)
	}
	return nil
}
