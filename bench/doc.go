// Package bench is Standby's benchmark harness: it runs the real components on loopback (the
// supervisor as its own process, agents, the Videohub simulator), injects failures and measures
// from each injection to the moment an independent Videohub client connection sees the routing
// change. It also sweeps the number of pairs and soaks pairs under CPU load to count false
// failovers.
//
// # What is measured
//
// Every latency is injection → observation, both taken in the bench process with the monotonic
// clock: the injection time is read right before the kill(2), the pipe write or the request that
// causes the failure; the observation time is read by the Observer, a Videohub client of its own
// (not the supervisor's connection, not the supervisor's log), the moment it has read the
// routing push that shows the pair's output on the backup input. The supervisor's own figures
// (the switch_ms of its log) are never used for a result; its log is followed only to know when
// a pair is back on its main and armed before the next run.
//
// # Scenarios
//
//   - crash: kill -9 of the watched engine process of the on-air main;
//   - hang: SIGSTOP of the main's agent (its heartbeats stop; the heartbeat timeout decides);
//   - critical: a health value of the main crosses its critical threshold;
//   - manual: an operator switch through the control surface;
//   - router-loss: the router goes silent (blackhole) past the supervisor's ping timeout, the main
//     fails meanwhile, the router comes back: measured from the router's return to the routing
//     confirmed on the backup.
//
// How each is injected depends on the machines (Options.Mode): agent processes (`standby agent`)
// watching engine processes, the default; or the supervisor's own simulated machines driven
// through a control pipe of `standby bench supervisor`, the supervisor's share of the path alone.
// The report says which. The scale sweep reports pair0 through agent processes and every other
// machine through one `standby bench agents` process hosting them all over one protoactor Remote.
//
// # Layout
//
// Run and Soak are the entry points; Studio owns the child processes of one setup; Observer is the
// independent client; stats.go, table.go, svg.go turn samples into the report. Every child runs in
// its own process group and is killed on return, on error and on context cancellation; every loop
// is bounded in count and time.
package bench
