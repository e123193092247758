// Package router holds the router actors: one long-lived connection per configured router that
// carries out crosspoint switches, verifies them against the router's own state, and publishes
// the router's connection state, routing, labels and locks to its subscribers. It knows nothing
// of pools, pairs, mains or backups: the pool engine decides what is on air.
//
// The messages in this file are the contract between pool actors and any router actor.
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
// answer is a Result sent to ReplyTo carrying the same Pool and Epoch.
type Switch struct {
	// Pool names the requester for logs and the answer; the router does not interpret it.
	Pool        string
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
	Pool    string
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
	// Redials counts the failed dials in a row while nothing accepts the connection (published
	// after 1, 2, 4, 8, ... of them; only the first is logged).
	Redials int
}

// Subscribe asks the router actor for its state: the subscriber gets the Status and a Routing
// now (when connected) and after every change, until Unsubscribe. Subscribing again replaces the
// earlier subscription (a restarted pool actor subscribes afresh). Claim lists outputs the
// subscriber wants locked by Standby (lock_outputs): they are taken with O locks whenever the
// router is connected, force-unlocked first only with ForceClaim; outputs nobody claims any more
// are released.
type Subscribe struct {
	PID        *actor.PID
	Claim      []conf.Port
	ForceClaim bool
}

// Unsubscribe ends a subscription.
type Unsubscribe struct{ PID *actor.PID }

// Routing tells subscribers the router's state: routing, labels and locks per output, at connect
// and after every change of them. Results of our own switches are sent first, so a subscriber
// hears its confirmation before the routing that shows it. Mirror is shared by every subscriber:
// read it, never change it.
type Routing struct {
	Router string
	Mirror *Mirror
}
