package vhsim

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// MaxPorts is the largest input or output count accepted: a Universal Videohub 288.
const MaxPorts = 288

// Defaults for zero Options fields.
const (
	DefaultPorts        = 40
	DefaultFriendlyName = "Standby Videohub Sim"
	DefaultUniqueID     = "5354414E4442" // fixed, so tests and demos see a stable ID
	DefaultVersion      = "2.8"
	DefaultWriteTimeout = 5 * time.Second
	DefaultMaxQueue     = 1 << 20 // bytes; a 288x288 prelude is about 30 KB
)

// Options configure a simulated Videohub. The zero value of every field has a usable default.
type Options struct {
	// Listen is the TCP address to listen on, e.g. "127.0.0.1:9990"; "127.0.0.1:0" picks a free
	// port (see Server.Addr). Empty means "127.0.0.1:9990".
	Listen string
	// Inputs and Outputs are the router size, 1 to MaxPorts each; 0 means DefaultPorts.
	Inputs, Outputs int
	// Model is the "Model name"; empty means "Blackmagic Smart Videohub <in> x <out>".
	Model string
	// FriendlyName is the "Friendly name"; empty means DefaultFriendlyName.
	FriendlyName string
	// UniqueID is the "Unique ID"; empty means DefaultUniqueID.
	UniqueID string
	// Version is the PROTOCOL PREAMBLE version; empty means DefaultVersion.
	Version string
	// InputLabels and OutputLabels set initial labels by 0-based index; missing or extra entries
	// are ignored, and unset labels read "Input N" / "Output N" (1-based, as on the chassis).
	InputLabels, OutputLabels []string
	// Faults are the initial fault switches; the Server's Set* methods change them later.
	Faults Faults
	// WriteTimeout bounds one write to a client; a client that takes no data for that long is
	// dropped. 0 means DefaultWriteTimeout. Time spent blackholed does not count.
	WriteTimeout time.Duration
	// MaxQueue is the number of bytes that may wait for one client before it is dropped as too
	// slow. 0 means DefaultMaxQueue.
	MaxQueue int
	// Seed seeds the random write chunking, so a failing run can be repeated.
	Seed uint64
	// Logger receives connection and protocol events; the zero Logger discards them.
	Logger zerolog.Logger
	// Control, if set, is read by Run line by line as control commands (see ControlHelp), with
	// their output written to ControlOut (io.Discard if nil). Start ignores both.
	Control    io.Reader
	ControlOut io.Writer
}

func (o *Options) setDefaults() error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:9990"
	}
	if o.Inputs == 0 {
		o.Inputs = DefaultPorts
	}
	if o.Outputs == 0 {
		o.Outputs = DefaultPorts
	}
	if o.Inputs < 1 || o.Inputs > MaxPorts {
		return fmt.Errorf("vhsim: inputs must be between 1 and %d, got %d", MaxPorts, o.Inputs)
	}
	if o.Outputs < 1 || o.Outputs > MaxPorts {
		return fmt.Errorf("vhsim: outputs must be between 1 and %d, got %d", MaxPorts, o.Outputs)
	}
	if o.Model == "" {
		o.Model = fmt.Sprintf("Blackmagic Smart Videohub %d x %d", o.Inputs, o.Outputs)
	}
	if o.FriendlyName == "" {
		o.FriendlyName = DefaultFriendlyName
	}
	if o.UniqueID == "" {
		o.UniqueID = DefaultUniqueID
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = DefaultMaxQueue
	}
	return o.Faults.validate()
}

// Faults are the switchable behaviours where emulators and hardware disagree, or that reproduce
// failures. The zero value is the hardware-like default.
type Faults struct {
	// LockedRoute is the reply to routing an output locked by another IP.
	LockedRoute LockedRouteReply
	// NoEndPrelude leaves END PRELUDE out of the prelude, like firmware before 2.8.
	NoEndPrelude bool
	// Routing chooses how a multi-line VIDEO OUTPUT ROUTING block with bad lines is applied.
	Routing RoutingMode
	// WriteChunk, when > 0, splits every write to clients into writes of at most this many bytes
	// (1 sends one byte per write).
	WriteChunk int
	// RandomChunks splits writes at random sizes from 1 to WriteChunk (or 64 if WriteChunk is 0).
	RandomChunks bool
	// AckDelay delays the handling of each client block, and so its ACK/NAK and push.
	AckDelay time.Duration
}

func (f Faults) validate() error {
	if f.WriteChunk < 0 || f.AckDelay < 0 {
		return fmt.Errorf("vhsim: write chunk (%d) and ack delay (%s) must not be negative", f.WriteChunk, f.AckDelay)
	}
	return nil
}

// LockedRouteReply is the reply to a route request for an output locked by another IP. Public
// sources disagree (notes §1.7); NAK is what a client on Smart Videohub 40x40/80x80 reports.
type LockedRouteReply uint8

// Locked-route replies.
const (
	LockedNAK         LockedRouteReply = iota // NAK, nothing changes (default)
	LockedACKNoChange                         // ACK, nothing changes and nothing is pushed
)

// String returns the flag spelling: "nak" or "ack".
func (r LockedRouteReply) String() string {
	if r == LockedACKNoChange {
		return "ack"
	}
	return "nak"
}

// Set parses "nak" or "ack"; it makes *LockedRouteReply a flag.Value.
func (r *LockedRouteReply) Set(s string) error {
	switch strings.ToLower(s) {
	case "nak":
		*r = LockedNAK
	case "ack":
		*r = LockedACKNoChange
	default:
		return fmt.Errorf("locked-route reply must be nak or ack, got %q", s)
	}
	return nil
}

// RoutingMode says how a multi-line VIDEO OUTPUT ROUTING block is applied when some lines are
// invalid (out of range, malformed) or refused (locked by another IP). Real hardware behaviour is
// undocumented (notes §1.6, §2.4).
type RoutingMode uint8

// Routing modes.
const (
	// RoutingPartial applies the valid lines and ACKs; if none is valid it answers NAK, or the
	// locked-route reply when some lines were only locked. Default; VideoHubSim does this.
	RoutingPartial RoutingMode = iota
	// RoutingAtomic applies all lines or none: any invalid line → NAK; otherwise any locked line
	// → the locked-route reply; in both cases nothing is applied.
	RoutingAtomic
)

// String returns the flag spelling: "partial" or "atomic".
func (m RoutingMode) String() string {
	if m == RoutingAtomic {
		return "atomic"
	}
	return "partial"
}

// Set parses "partial" or "atomic"; it makes *RoutingMode a flag.Value.
func (m *RoutingMode) Set(s string) error {
	switch strings.ToLower(s) {
	case "partial":
		*m = RoutingPartial
	case "atomic":
		*m = RoutingAtomic
	default:
		return fmt.Errorf("routing mode must be partial or atomic, got %q", s)
	}
	return nil
}
