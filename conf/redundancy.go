package conf

import "time"

// Redundancy modes.
const (
	RedundancyNone              = "none"
	RedundancyPrimary           = "primary"
	RedundancySecondaryCopy     = "secondary-copy"     // mirrors the primary, never takes over
	RedundancySecondaryFailover = "secondary-failover" // takes over when the primary is gone
)

// Redundancy is the [redundancy] table: this supervisor's place in a primary/secondary pair of
// supervisors linked by a sync link (LTN Schedule's modes, Pixotope's backup server).
type Redundancy struct {
	// Mode is none, primary, secondary-copy (mirrors, never takes over) or secondary-failover
	// (takes over when the primary has been unavailable for failover_offset and the agents
	// confirm it). Default "none".
	Mode string `toml:"mode"`
	// Peer is the other supervisor's remote endpoint (its [supervisor] listen or advertise).
	// Required unless mode is none.
	Peer string `toml:"peer"`
	// FailoverOffset is how long the primary must be unavailable before a secondary-failover
	// takes over. Default "1s"; at least 3 × sync_interval.
	FailoverOffset Duration `toml:"failover_offset"`
	// Failback is what happens when the primary returns while the secondary acts for it:
	// "automatic" (it takes control back once it is synced) or "manual" (an operator presses
	// Make primary). Default "automatic".
	Failback string `toml:"failback"`
	// SyncInterval is the heartbeat of the sync link. Default "50ms"; at least "5ms".
	SyncInterval Duration `toml:"sync_interval"`
}

// Paired reports whether the supervisor has a peer.
func (r Redundancy) Paired() bool { return r.Mode != RedundancyNone }

func (r *Redundancy) applyDefaults() {
	setStr(&r.Mode, RedundancyNone)
	setStr(&r.Failback, ModeAutomatic)
	setDur(&r.FailoverOffset, time.Second)
	setDur(&r.SyncInterval, 50*time.Millisecond)
}

func (c *Config) validateRedundancy(e *errs) {
	r := c.Redundancy
	switch r.Mode {
	case RedundancyNone:
		return
	case RedundancyPrimary, RedundancySecondaryCopy, RedundancySecondaryFailover:
	default:
		e.add("redundancy.mode", "%q is not a mode (none, primary, secondary-copy, secondary-failover)", r.Mode)
		return
	}
	switch {
	case r.Peer == "":
		e.add("redundancy.peer", "missing: the other supervisor's listen address (host:port)")
	default:
		checkHostPort(e, "redundancy.peer", r.Peer)
		if r.Peer == c.Supervisor.Listen || (c.Supervisor.Advertise != "" && r.Peer == c.Supervisor.Advertise) {
			e.add("redundancy.peer", "%q is this supervisor's own address", r.Peer)
		}
	}
	if r.Failback != ModeAutomatic && r.Failback != ModeManual {
		e.add("redundancy.failback", "%q is not automatic or manual", r.Failback)
	}
	r.SyncInterval.check(e, "redundancy.sync_interval", 5*time.Millisecond)
	r.FailoverOffset.check(e, "redundancy.failover_offset", time.Millisecond)
	if r.SyncInterval.bad == "" && r.FailoverOffset.bad == "" && r.FailoverOffset.Duration < 3*r.SyncInterval.Duration {
		e.add("redundancy.failover_offset", "%s must be at least 3 × sync_interval (%s)", r.FailoverOffset.Duration, r.SyncInterval.Duration)
	}
}
