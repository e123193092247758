// Package router holds the router actors: one long-lived connection per configured router that
// carries out pairs' switches, verifies them against the router's own state, and publishes the
// router's connection state.
//
// The messages in this file are the contract between pair actors and any router actor.
package router

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/conf"
)

// Crosspoint routes Input to Output. Ports are as written in the config: 1-based numbers or labels.
type Crosspoint struct {
	Output conf.Port
	Input  conf.Port
}

// Switch asks the router actor to apply every crosspoint in one request and verify it. The
// answer is a Result sent to ReplyTo carrying the same Pair and Epoch.
type Switch struct {
	Pair        string
	Epoch       uint64
	Crosspoints []Crosspoint
	// ForceUnlock allows one force-unlock of outputs locked by other clients, then a retry.
	ForceUnlock bool
	ReplyTo     *actor.PID
	// Sent is when the pair asked, for the measured switch time.
	Sent time.Time
}

// Reason says why a switch was not confirmed.
type Reason string

// Refusal reasons.
const (
	ReasonNAK          Reason = "nak"           // the router answered NAK
	ReasonUnchanged    Reason = "unchanged"     // ACK, but the routing did not change
	ReasonLocked       Reason = "locked"        // an output is locked by another client
	ReasonTimeout      Reason = "timeout"       // no ACK or no confirmed routing in time
	ReasonNotConnected Reason = "not connected" // the router is not connected
	ReasonInvalid      Reason = "invalid"       // a port or label does not exist on the router
)

// Result is the router actor's answer to a Switch (and to SetLock).
type Result struct {
	Pair    string
	Epoch   uint64
	OK      bool
	Reason  Reason
	Detail  string
	Latency time.Duration
}

// Conn is a router connection state.
type Conn string

// Connection states.
const (
	Connected   Conn = "connected"
	Connecting  Conn = "connecting"
	Unavailable Conn = "unavailable"
)

// Status is published on the actor system's event stream on every connection change.
type Status struct {
	Router string
	Conn   Conn
	Detail string
	Model  string
	Name   string
	// Inputs and Outputs are the router's size once connected.
	Inputs, Outputs int
}

// PairStarted is sent by a pair actor when it starts or restarts. The router answers with what the
// pair may have missed while it was not running (a router that connected first told nobody): its
// Status when connected, what it shows on the pair's outputs (OnAirSeen) and a LockAlert when
// another client locks them.
type PairStarted struct{ Pair string }

// OnAirSeen tells a pair which of its machines the router shows on the pair's outputs, at connect
// and whenever that changes: Shows is "main" or "backup" when every output shows that machine's
// input, "" when they disagree or show other inputs (Detail lists what each output shows).
type OnAirSeen struct {
	Router string
	Pair   string
	Shows  string
	Detail string
}

// LockAlert tells a pair that outputs it uses are locked by another router client (or no longer).
type LockAlert struct {
	Router string
	Pair   string
	Locked bool
	Detail string
}
