// Package agent is the Standby agent that runs on each render machine: it watches the machine's
// services and health values and reports them to its supervisors over protoactor remote.
//
// What it watches (conf.Agent):
//   - process services, by pid, pidfile or name; the exit of a watched process is seen the moment it
//     happens through a Linux pidfd waited on by the Go runtime's poller, and a process that starts
//     later is picked up within the service's interval;
//   - tcp, http and exec services, checked every interval with a timeout, reported down with the
//     reason;
//   - builtin health values (cpu_load, memory_used, disk_used, cpu_temp, gpu_temp) and values printed
//     by a command or served by a URL; a value that cannot be read is reported not ok with the reason;
//   - sim services and health values, set at run time with pb.SimSet (demo studio, bench, tests).
//
// What it sends (pb.AgentReport to pb.GatewayActorID on a supervisor): the whole state every
// heartbeat_interval, and at once, without waiting for the beat, when a service goes up or down, a
// health value becomes readable or unreadable, or a sim value is set. Plain value changes ride on the
// next beat. Reports wait until every service has been checked once (at most the longest check
// timeout plus 100 ms) so an agent restart never reports a healthy service down.
//
// Whom it sends to: every supervisor of its config, always (never an address learned from a
// reply), so a standby supervisor's view is warm; each report says what the agent hears of each
// supervisor (the witness votes of a takeover). It follows, for its logs, the one answering active
// with the highest term. Every report carries a fresh seq so a reply can be credited to the
// supervisor that answered. Reports ask for sparse replies: a supervisor answers unchanged
// heartbeats only every beacon (it says how long in each reply), and the agent counts a
// supervisor lost only after that beacon plus its miss allowance.
//
// Structure: table (state and change detection), follower (supervisor choice) and sentLog are pure
// and tested without actors; agentActor is the shell that owns them; the watchers are goroutines that
// only observe and send results to the actor; Run wires it all to a node.
package agent
