// Package vhsim simulates a Blackmagic Videohub router on TCP, for tests, benchmarks and demos.
//
// Start one in-process with Start (tests: Listen "127.0.0.1:0", then Addr) or run one until a
// context ends with Run (the `standby sim videohub` command). The server speaks the protocol of
// shared/notes/videohub.md, with the choices below where hardware behaviour is undocumented.
//
// On connect a client gets the prelude: PROTOCOL PREAMBLE (2.8), VIDEOHUB DEVICE, INPUT LABELS,
// OUTPUT LABELS, VIDEO OUTPUT LOCKS, VIDEO OUTPUT ROUTING, CONFIGURATION and, unless switched off,
// END PRELUDE. Every client block gets exactly one ACK or NAK, in the order received; an ACKed
// change is then pushed to every client, the sender included, with only the lines that changed
// (a no-op change is ACKed and pushes nothing).
//
//   - Dump request (a known header and a blank line): ACK, then the whole block. Blocks for port
//     families the simulator does not have (monitoring, serial, processing, frame) get NAK.
//   - PING: ACK. Unknown blocks (including "PING" without a colon): NAK.
//   - Hardware status blocks (VIDEO INPUT/OUTPUT STATUS, SERIAL PORT STATUS, ALARM STATUS) sent by
//     a client: ACK, ignored, as the protocol document says.
//   - Labels and locks: lines that are out of range or refused are dropped, the rest applied; NAK
//     only when no line of the block is valid.
//   - Routing: see RoutingMode (partial or atomic) and LockedRouteReply (NAK or ACK without change).
//   - VIDEOHUB DEVICE with "Friendly name: X" renames the device; CONFIGURATION sets Take Mode.
//
// Locks are owned per client IP address and survive disconnects. Each client sees O for the
// locks its own IP owns, L for other owners' and U for unlocked outputs. A client routes through
// its own lock. Sending O on an output another IP owns is refused (the line is invalid, so a
// one-line block is NAKed): the protocol gives F, force-unlock, for taking over a lock, so a
// client must send F then O. U releases only the sender's own lock; F releases anyone's.
//
// Fault switches (Faults, and the Set* methods on Server, safe for concurrent use) reproduce the
// disagreements between public emulators and the failure modes a supervisor must survive:
// locked-route reply, END PRELUDE on/off, partial or atomic routing, split writes, ACK delay,
// blackhole, connection reset (RST) and device detach/re-attach.
//
// Each client has its own write queue and write deadline, so a client that does not read, or is
// blackholed, cannot stall replies and pushes to the others: it is dropped once its queue passes
// Options.MaxQueue or a write blocks past Options.WriteTimeout. A client that sends garbage (a
// line or block over the codec's limits) is disconnected.
//
// Lock order: Server.mu, then client.mu. Nothing takes Server.mu while holding a client.mu.
package vhsim
